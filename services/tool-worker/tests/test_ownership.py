"""Claims on conversations against a real Redis."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from contracts import ToolJob, ToolName
from tool_worker.ownership import Ownership


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _job() -> ToolJob:
    return ToolJob(call_id="call1", conversation_id="c1", name=ToolName.PAUSE)


async def test_first_claim_wins_and_others_see_the_owner(redis: Redis) -> None:
    a, b = Ownership(redis, "a", 10), Ownership(redis, "b", 10)
    assert await a.claim("c1") == "a"
    assert await b.claim("c1") == "a"
    assert await b.claim("c2") == "b"


async def test_forwarding_reaches_a_listening_owner_and_fails_without_one(redis: Redis) -> None:
    a, b = Ownership(redis, "a", 10), Ownership(redis, "b", 10)
    assert not await b.forward("a", _job())  # nobody listens for "a" yet
    received: asyncio.Queue[ToolJob] = asyncio.Queue()

    async def handle(job: ToolJob) -> None:
        await received.put(job)

    ready = asyncio.Event()
    listener = asyncio.create_task(a.listen(handle, ready))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        assert await b.forward("a", _job())
        assert await asyncio.wait_for(received.get(), 5) == _job()
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener


async def test_take_over_release_and_refresh_only_touch_the_expected_owner(redis: Redis) -> None:
    a, b = Ownership(redis, "a", 10), Ownership(redis, "b", 10)
    await a.claim("c1")
    await b.take_over("c1", dead_owner="someone-else")
    assert await b.claim("c1") == "a"  # unchanged: "a" was not the owner b thought dead
    await b.take_over("c1", dead_owner="a")
    assert await a.claim("c1") == "b"
    await a.release("c1")  # not a's to release
    assert await redis.get("av:agentic-owner:c1") == b"b"
    await b.release("c1")
    assert await redis.get("av:agentic-owner:c1") is None
