"""Fixtures for every test in the repository: a real Redis and real service processes."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.redis_server import RedisServer, redis_kind, running_redis
from harness.services import Processes, StartEventStore
from stack import ManagedProcess, event_store_spec, free_port

# testcontainers' reaper runs in a container of its own image, which no registry here can give;
# every container a test starts is removed by the test itself.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def pytest_report_header() -> list[str]:
    return [
        f"redis for tests/integration: {redis_kind(prefer_container=True)}",
        f"redis for the other tests: {redis_kind(prefer_container=False)}",
    ]


# `make test` runs pytest on two workers (`-n 2 --dist loadgroup`). Each test file stays on one
# worker (its module fixtures are built once), and so do these groups: the composed stack's
# tests share one deployment, and the tests that recognise and synthesise speech in real time
# (Whisper, Piper, a browser) run one after another, so two of them never compete for the CPU
# and change what they hear.
_GROUPS = {
    "tests/containers/": "containers",
    "tests/integration/test_local_brain.py": "speech",
    "tests/integration/test_voice_gateway.py": "speech",
    "tests/integration/test_voice_gateway_barge_in.py": "speech",
    "tests/e2e/test_browser.py": "speech",
    "tests/e2e/test_browser_resume.py": "speech",
    "tests/e2e/test_browser_devices.py": "speech",
    "tests/fuzz/test_voice_endpoint_fuzz.py": "speech",
    "tests/faults/test_slow_peers.py": "speech",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = next((g for prefix, g in _GROUPS.items() if path.startswith(prefix)), path)
        item.add_marker(pytest.mark.xdist_group(group))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Results that belong in CI's log even when their tests pass (`record_property` with a
    name listed here): the TLS scan's summary."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "tls_scan":
                terminalreporter.write_sep("-", "TLS scan of the nginx front")
                terminalreporter.write_line(str(value))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path / "logs")
    yield started
    started.stop_all()


@pytest.fixture
def start_event_store(redis_url: str, tmp_path: Path, processes: Processes) -> StartEventStore:
    """Start the event-store with its real command on a free port; stopped after the test."""

    def start(db_path: Path | None = None, **env: str) -> ManagedProcess:
        db = db_path or tmp_path / "events.db"
        return processes.start(event_store_spec(free_port(), redis_url, db, extra_env=env))

    return start


# The doubles of the peers that cannot be reached from here (protocol-faithful; libs/fakes).


@pytest.fixture
def agentic() -> Iterator[FakeAgenticBackend]:
    with FakeAgenticBackend() as backend:
        yield backend


@pytest.fixture
def realtime() -> Iterator[FakeRealtimeServer]:
    with FakeRealtimeServer() as server:
        yield server
