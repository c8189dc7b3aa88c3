"""Fixtures for the tool-worker's cross-service tests: the fake agentic backend and workers."""

from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from fakes.agentic_backend import FakeAgenticBackend
from harness.services import Processes, StartWorker
from stack import ManagedProcess, free_port, tool_worker_spec


@pytest.fixture
def agentic() -> Iterator[FakeAgenticBackend]:
    with FakeAgenticBackend() as backend:
        yield backend


@pytest.fixture
def start_worker(redis_url: str, agentic: FakeAgenticBackend, processes: Processes) -> StartWorker:
    """Start a tool-worker with its real command, against the fake backend."""
    count = 0

    def start(**env: str) -> ManagedProcess:
        nonlocal count
        count += 1
        defaults = {
            "AGENTIC_WS_URL": agentic.url,
            "TOOL_WORKER_CONNECT_TIMEOUT_S": "1",
            "TOOL_WORKER_WORKER_ID": f"worker-{count}",
        }
        spec = tool_worker_spec(free_port(), redis_url, extra_env={**defaults, **env})
        return processes.start(spec)

    return start


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
