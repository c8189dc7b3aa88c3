"""The registry against a real Redis: any replica lists and stops any replica's session."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from harness.waiting import async_wait_until
from voice_gateway.sessions.registry import SessionInfo, SessionRegistry


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _info(session_id: str, replica: str) -> SessionInfo:
    return SessionInfo(session_id, "conv", replica, "127.0.0.1", "openai", "raw", time.time())


async def test_a_second_replica_lists_and_stops_a_session(redis: Redis) -> None:
    stopped: list[tuple[str, str]] = []

    async def on_stop(session_id: str, reason: str) -> None:
        stopped.append((session_id, reason))

    holder = SessionRegistry(redis, "replica-a")
    other = SessionRegistry(redis, "replica-b")
    holder.start(on_stop)
    try:
        await holder.add(_info("s1", "replica-a"))
        [listed] = await other.list()
        assert (listed["session_id"], listed["replica"]) == ("s1", "replica-a")
        assert await async_wait_until(lambda: other.request_stop("s1"), what="control listener")
        await async_wait_until(lambda: _truthy(stopped), what="stop delivered")
        assert stopped == [("s1", "stopped")]
        assert not await other.request_stop("unknown")
    finally:
        await holder.close()
    assert await other.list() == []


async def test_expired_sessions_disappear_from_the_list(redis: Redis) -> None:
    registry = SessionRegistry(redis, "replica-a", ttl_s=1)
    await registry.add(_info("s1", "replica-a"))
    await redis.delete("av:session:s1")  # as if its replica died and the TTL ran out
    assert await registry.list() == []
    assert await redis.smembers("av:sessions") == set()


async def _truthy(items: list[tuple[str, str]]) -> bool:
    await asyncio.sleep(0)
    return bool(items)
