"""The stack as users run it: the images built from the project's Dockerfiles (`make images`),
started with the real docker-compose.yml under a project name of the tests' own.

What the compose file leaves to the user's .env comes from the test: free ports on loopback, and
the doubles' addresses. The OpenAI Realtime double and the agentic backend double run in this
process, listening on this machine's address on Docker's bridge, and the containers reach them
at `host.docker.internal`, as a user points the stack at a backend on the Docker host.
Grafana is left out (it cannot run here: ops/images/README.md). Everything the run made
(containers, networks, volumes) is removed at its end, whatever happened.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.compose_stack import ComposeError, ComposeStack, bridge_gateway, image_missing
from harness.deploy_files import REQUIRED, ROOT, compose_image
from harness.redis_server import container_redis_unavailable
from nginx_site import ensure_certificate
from stack import free_port

BUILT = ("agentic-voice/event-store", "agentic-voice/tool-worker", "agentic-voice/voice-gateway",
         "agentic-voice/web")  # fmt: skip
TLS_DIR = ROOT / "data" / "tls"  # compose mounts ./data/tls, as `make run` uses it
CONTAINER_HOST = "host.docker.internal"


@dataclass
class Deployment:
    stack: ComposeStack
    url: str  # https://localhost:<port>: nginx, as a browser reaches it
    realtime: FakeRealtimeServer
    agentic: FakeAgenticBackend

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=TLS_DIR / "tls.crt")

    @property
    def voice_url(self) -> str:
        return self.url.replace("https://", "wss://") + "/api/realtime/pipecat/ws"


def engine_ready() -> None:
    """Fail at once, in one line, when the run cannot happen here."""
    problem = container_redis_unavailable()
    if problem is not None and "not available" not in problem:
        pytest.fail(f"the container tests need a Docker engine: {problem} (make images starts one)")
    wanted = [f"{name}:latest" for name in BUILT] + [
        compose_image(s) for s in ("redis", "prometheus")
    ]
    missing = image_missing(*wanted)
    if missing:
        pytest.fail(f"images not built: {', '.join(missing)} (make images builds them)")


@pytest.fixture(scope="session")
def doubles() -> Iterator[tuple[FakeRealtimeServer, FakeAgenticBackend]]:
    host = bridge_gateway()
    with (
        FakeRealtimeServer(host=host, audio_speed=1.0) as realtime,
        FakeAgenticBackend(host=host, step_s=0.2) as agentic,
    ):
        yield realtime, agentic


@pytest.fixture(scope="session")
def deployed(doubles: tuple[FakeRealtimeServer, FakeAgenticBackend]) -> Iterator[Deployment]:
    engine_ready()
    realtime, agentic = doubles
    ensure_certificate(TLS_DIR)
    https_port = free_port()
    realtime_url = realtime.url("tool_call").replace(realtime.host, CONTAINER_HOST, 1)
    stack = ComposeStack(
        project=f"avtest{os.getpid()}",
        env={
            **REQUIRED,
            "HTTPS_BIND": "127.0.0.1",
            "HTTPS_PORT": str(https_port),
            "PROMETHEUS_PORT": str(free_port()),
            "OPENAI_API_KEY": "test-key",
            "OPENAI_REALTIME_URL": realtime_url,
            "AGENTIC_WS_URL": f"ws://{CONTAINER_HOST}:{agentic.port}",
            "TAG": "latest",
        },
    )
    try:
        stack.up()
        yield Deployment(stack, f"https://localhost:{https_port}", realtime, agentic)
    except ComposeError as exc:
        pytest.fail(str(exc))
    finally:
        stack.down(volumes=True)
