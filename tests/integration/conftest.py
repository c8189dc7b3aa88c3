"""Fixtures for the tool-worker's cross-service tests: the fake agentic backend and workers."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.redis_server import RedisServer, running_redis
from harness.services import Processes, StartGateway, StartWorker
from stack import ManagedProcess, free_port, tool_worker_spec, voice_gateway_spec


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """The integration tests' Redis: a container of the image compose runs, from testcontainers,
    where a Docker engine can run one (pytest's header says which it is)."""
    with running_redis(tmp_path / "redis", prefer_container=True) as server:
        yield server


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
def start_gateway(
    redis_url: str, realtime: FakeRealtimeServer, processes: Processes
) -> StartGateway:
    """Start a voice-gateway with its real command, its brain the fake Realtime server."""

    def start(scenario: str = "reply", **env: str) -> ManagedProcess:
        defaults = {
            "OPENAI_API_KEY": "test-key",
            "OPENAI_REALTIME_URL": realtime.url(scenario),
            "GATEWAY_REPLICA": f"gateway-{free_port()}",
        }
        return processes.start(
            voice_gateway_spec(free_port(), redis_url, extra_env={**defaults, **env})
        )

    return start


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()
