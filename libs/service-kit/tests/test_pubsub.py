"""The pub/sub follower against a real Redis: messages in order, and a new subscription after
Redis restarts (what each service relied on its own copy of this loop for)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from harness.redis_server import RedisServer
from harness.waiting import async_wait_until
from service_kit.pubsub import Published, follow


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_messages_arrive_in_order_and_survive_a_redis_restart(
    redis: Redis, redis_server: RedisServer
) -> None:
    got: list[Published] = []
    ready = asyncio.Event()

    async def handle(message: Published) -> None:
        got.append(message)

    def received(n: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return len(got) >= n

        return probe

    async def lost() -> bool:
        return not ready.is_set()

    follower = asyncio.create_task(
        follow(
            redis,
            handle,
            channels=["plain"],
            patterns=["tool:result:*"],
            ready=ready,
            name="test",
            reconnect_delay_s=0.05,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await redis.publish("plain", b"one")
        await redis.publish("tool:result:c1", "two")
        await redis.publish("elsewhere", b"not followed")
        await async_wait_until(received(2), what="both messages")
        assert got == [Published("plain", b"one"), Published("tool:result:c1", b"two")]

        redis_server.kill()
        await async_wait_until(lost, what="the follower to see it lost")
        redis_server.start()
        await asyncio.wait_for(ready.wait(), 30)
        await redis.publish("plain", b"three")
        await async_wait_until(received(3), what="a message after the restart")
        assert got[-1] == Published("plain", b"three")
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower


async def test_nothing_to_follow_is_refused(redis: Redis) -> None:
    async def handle(message: Published) -> None:
        raise AssertionError(message)

    with pytest.raises(ValueError, match="a channel or a pattern"):
        await follow(redis, handle, name="test")
