"""`voice-gateway`: the command `make run` starts and the container runs."""

import sys

import uvicorn
from loguru import logger

from voice_gateway.app import create_app
from voice_gateway.log_setup import configure_logging
from voice_gateway.server import GatewayServer
from voice_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    # Pipecat logs through loguru at DEBUG by default: a line per frame event, per session.
    logger.remove()
    logger.add(sys.stderr, level=settings.log_level.upper(), serialize=settings.log_json)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        # Frames over the limit close the socket with 1009 before they reach the pipeline.
        ws_max_size=settings.max_frame_bytes,
        # Compressing PCM costs CPU on every frame and saves little.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=15,
    )
    GatewayServer(config, app).run()


if __name__ == "__main__":
    main()
