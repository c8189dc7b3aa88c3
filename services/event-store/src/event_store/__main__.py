"""`event-store`: the command `make run` starts and the container runs."""

import uvicorn

from event_store.app import create_app
from event_store.settings import Settings
from service_kit.logs import configure_logging
from service_kit.settings import load_settings


def main() -> None:
    settings = load_settings(Settings, "event-store")
    configure_logging(json=settings.log_json, level=settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        timeout_graceful_shutdown=15,
    )


if __name__ == "__main__":
    main()
