"""Where the deployment files are, and the one value compose requires: named once for tests/ops."""

import sys
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the workspace venv's tools (docker-compose, hadolint)
BASE = "docker-compose.yml"
JETSON = "docker-compose.jetson.yml"
DOCKERFILES = {
    "event-store": ROOT / "services" / "event-store" / "Dockerfile",
    "tool-worker": ROOT / "services" / "tool-worker" / "Dockerfile",
    "voice-gateway": ROOT / "services" / "voice-gateway" / "Dockerfile",
    "nginx": ROOT / "web" / "Dockerfile",
}
# The one value .env.example leaves for the user to fill in.
REQUIRED = {"GRAFANA_ADMIN_PASSWORD": "a-test-password"}


def compose_image(service: str) -> str:
    """The image docker-compose.yml runs for `service` (for those it does not build)."""
    image: str = yaml.safe_load((ROOT / BASE).read_text())["services"][service]["image"]
    return image


REDIS_IMAGE = compose_image("redis")
