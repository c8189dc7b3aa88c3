"""`voice-gateway`: the command `make run` starts and the container runs."""

from voice_gateway.server import configure, serve
from voice_gateway.settings import Settings


def main() -> None:
    settings = Settings()
    configure(settings)
    serve(settings)


if __name__ == "__main__":
    main()
