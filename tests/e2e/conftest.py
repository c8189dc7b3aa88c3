"""The whole stack behind the real nginx front, as `make run` starts it, on free ports.

Redis, event-store, tool-worker, voice-gateway and nginx are real processes; the OpenAI Realtime
server and the agentic backend are the protocol-faithful fakes. The web client is the production
build in web/dist (`make test` builds it before pytest runs).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.services import Processes, StartEventStore
from stack import (
    ROOT,
    ManagedProcess,
    free_port,
    front_spec,
    tool_worker_spec,
    voice_gateway_spec,
)

WEB_ROOT = ROOT / "web" / "dist"
# Pipecat's own client SDK on a page of its own (web/sdk-check/; `make test` builds it).
SDK_CHECK_ROOT = ROOT / "web" / "dist-sdk"


@dataclass
class Front:
    """The running stack as a browser and the test see it."""

    url: str  # https://localhost:<port>, nginx with the built client
    gateway: ManagedProcess
    event_store: ManagedProcess
    realtime: FakeRealtimeServer
    certificate: Path  # the self-signed one made as at setup: clients can trust just it
    log_dirs: tuple[Path, ...] = ()  # where the processes and nginx write their logs

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.certificate)

    @property
    def gateway_url(self) -> str:
        return self.gateway.spec.url

    @property
    def event_store_url(self) -> str:
        return self.event_store.spec.url


@pytest.fixture
def front(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    redis_url: str,
    start_event_store: StartEventStore,
    processes: Processes,
) -> Iterator[Front]:
    """The stack; `@pytest.mark.parametrize("front", [{"GATEWAY_TOKEN": ...}], indirect=True)`
    gives the gateway and the event-store extra environment (a shared token, say)."""
    if not (WEB_ROOT / "index.html").exists():
        pytest.fail(f"no built web client in {WEB_ROOT}: `make test` builds it (make web)")
    shared_env: dict[str, str] = getattr(request, "param", {})
    with FakeAgenticBackend(step_s=0.2) as agentic, FakeRealtimeServer(audio_speed=1.0) as realtime:
        store = start_event_store(**shared_env)
        processes.start(tool_worker_spec(free_port(), redis_url, extra_env={
            "AGENTIC_WS_URL": agentic.url,
        }))  # fmt: skip
        gateway_port = free_port()
        gateway = processes.start(voice_gateway_spec(gateway_port, redis_url, extra_env={
            "OPENAI_API_KEY": "test-key",
            "OPENAI_REALTIME_URL": realtime.url("tool_call"),
            **shared_env,
        }))  # fmt: skip
        https_port = free_port()
        processes.start(
            front_spec(
                tmp_path / "front",
                https_port,
                gateway_port=gateway_port,
                event_store_port=int(store.spec.url.rsplit(":", 1)[1]),
                web_root=WEB_ROOT,
            )
        )
        yield Front(
            f"https://localhost:{https_port}",
            gateway,
            store,
            realtime,
            tmp_path / "front" / "tls" / "tls.crt",
            (tmp_path / "logs", tmp_path / "front" / "logs"),
        )
