"""`voice-gateway`: the command `make run` starts and the container runs."""

import os

from service_kit.settings import load_settings
from voice_gateway.memory import tune_allocator
from voice_gateway.settings import Settings


def main() -> None:
    tune_allocator()  # before the models and sessions allocate anything large
    # loguru writes to stderr in its own format from the moment it is imported (Pipecat logs a
    # banner on import): without that default sink, every record waits for `configure` to
    # send it on in the service's format. Worker processes inherit the setting.
    os.environ.setdefault("LOGURU_AUTOINIT", "false")
    from voice_gateway.server import configure, serve

    settings = load_settings(Settings, "voice-gateway")
    configure(settings)
    serve(settings)


if __name__ == "__main__":
    main()
