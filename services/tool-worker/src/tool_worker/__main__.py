"""`tool-worker`: the command `make run` starts and the container runs."""

from service_kit.logs import configure_logging
from service_kit.settings import load_settings
from tool_worker.settings import Settings
from tool_worker.worker import build_worker


def main() -> None:
    settings = load_settings(Settings, "tool-worker")
    configure_logging(json=settings.log_json, level=settings.log_level)
    build_worker(settings).run()


if __name__ == "__main__":
    main()
