"""Fixtures for fuzzing: one real gateway per module (fuzzing is thousands of sessions, not
thousands of processes), a healthy session kept open beside the fuzzed ones, and the
cross-service fixtures of tests/integration for the tests that need a worker or a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect

from fakes.openai_realtime import FakeRealtimeServer
from fuzz.gateway_checks import MAX_FRAME_BYTES, TIMEOUT_S, HealthySession, voice_url
from harness.redis_server import running_redis
from integration.conftest import redis, start_worker
from stack import ManagedProcess, free_port, voice_gateway_spec

__all__ = ["redis", "start_worker"]  # re-exported fixtures


@pytest.fixture(scope="module")
def fuzz_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    """A gateway on the fake Realtime server, its per-address limits out of the fuzzer's way
    (they have tests of their own: tests/integration/test_voice_gateway_sessions.py)."""
    root: Path = tmp_path_factory.mktemp("fuzz")
    with running_redis(root / "redis") as redis_server, FakeRealtimeServer() as realtime:
        spec = voice_gateway_spec(
            free_port(),
            redis_server.url,
            extra_env={
                "OPENAI_API_KEY": "test-key",
                "OPENAI_REALTIME_URL": realtime.url("reply"),
                "GATEWAY_MAX_FRAME_BYTES": str(MAX_FRAME_BYTES),
                "GATEWAY_MAX_SESSIONS": "200",
                "GATEWAY_MAX_SESSIONS_PER_ADDRESS": "200",
                "GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "100000",
                # A fuzzed connection that drops ends its session at once, so the check that
                # nobody else was harmed can count sessions (resume has tests of its own).
                "GATEWAY_RESUME_S": "0",
            },
        )
        gateway = ManagedProcess(spec, root / "logs")
        gateway.start(timeout=30)
        try:
            yield gateway
        finally:
            gateway.stop()


@pytest.fixture(scope="module")
def healthy(fuzz_gateway: ManagedProcess) -> Iterator[HealthySession]:
    # No keepalive pings (ping_interval=None): websockets draws each ping's payload from the
    # global `random` in its own thread, which under Hypothesis changes the random state while
    # an example is being drawn, and Hypothesis then fails that example as flaky.
    url = voice_url(fuzz_gateway, cid="healthy")
    with connect(url, open_timeout=TIMEOUT_S, ping_interval=None) as ws:
        session = HealthySession(ws)
        assert session.answers_ping()
        yield session
