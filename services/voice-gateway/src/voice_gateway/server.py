"""Serving the app: uvicorn in one process or several, with sessions ended before sockets close.

On SIGTERM uvicorn closes every WebSocket (1012) before the app's shutdown runs, so sessions
would end as if the browser had left. `drain_on_signals` (installed at startup, in each worker
process) first ends each session as `shutdown` (the client hears why, the store records it),
waits for them, then hands the signal to uvicorn. A second signal stops at once.

Several worker processes share the port (GATEWAY_WORKERS): the gateway is one event loop per
process, and Pipecat's per-frame work fills a core at a few dozen sessions. Sessions are listed
and stopped through Redis, so they are found whichever process holds them; the per-address
limits apply per process.
"""

import asyncio
import signal
from types import FrameType
from typing import Any

import structlog
import uvicorn

from service_kit.logs import configure_logging, forward_loguru
from voice_gateway.gateway import Gateway
from voice_gateway.settings import Settings

log = structlog.get_logger(__name__)
DRAIN_S = 10.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_on_signals(gateway: Gateway) -> None:
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}  # uvicorn's, during serve()
    draining: list[asyncio.Task[None]] = []

    def hand_over(sig: int, frame: FrameType | None) -> None:
        handler = previous[signal.Signals(sig)]
        if callable(handler):
            handler(sig, frame)

    def start(sig: int, frame: FrameType | None) -> None:
        if draining:
            return
        log.info("draining", sessions=len(gateway.sessions))
        task = loop.create_task(gateway.end_all("shutdown", DRAIN_S))
        task.add_done_callback(lambda _: hand_over(sig, frame))
        draining.append(task)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if draining:  # the second time: now
            hand_over(sig, frame)
        else:  # a signal handler runs between bytecodes of the loop's thread: hand to the loop
            loop.call_soon_threadsafe(start, sig, frame)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)


def configure(settings: Settings) -> None:
    configure_logging(json=settings.log_json, level=settings.log_level)
    forward_loguru(settings.log_level)  # Pipecat's records, in the same format


def serve(settings: Settings) -> None:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        # Frames over the limit close the socket with 1009 before they reach the pipeline.
        "ws_max_size": settings.max_frame_bytes,
        # Compressing PCM costs CPU on every frame and saves little.
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 15,
    }
    if settings.workers == 1:
        from voice_gateway.app import create_app

        uvicorn.Server(uvicorn.Config(create_app(settings), **options)).run()
    else:  # each worker builds its own app from the same environment
        uvicorn.run(
            "voice_gateway.app:create_app", factory=True, workers=settings.workers, **options
        )
