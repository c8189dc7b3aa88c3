"""Fixtures for the tool-worker's cross-service tests: the fake agentic backend and workers."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from fakes.agentic_backend import FakeAgenticBackend
from harness.services import StartWorker
from stack import ManagedProcess, free_port, tool_worker_spec


@pytest.fixture
def agentic() -> Iterator[FakeAgenticBackend]:
    with FakeAgenticBackend() as backend:
        yield backend


@pytest.fixture
def start_worker(
    redis_url: str, agentic: FakeAgenticBackend, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start a tool-worker with its real command; stopped after the test."""
    started: list[ManagedProcess] = []

    def start(**env: str) -> ManagedProcess:
        spec = tool_worker_spec(
            free_port(),
            redis_url,
            extra_env={
                "AGENTIC_WS_URL": agentic.url,
                "TOOL_WORKER_CONNECT_TIMEOUT_S": "1",
                "TOOL_WORKER_WORKER_ID": f"worker-{len(started) + 1}",
                **env,
            },
        )
        spec.name = f"tool-worker-{len(started) + 1}"
        process = ManagedProcess(spec, tmp_path / "logs")
        process.start(timeout=30)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
