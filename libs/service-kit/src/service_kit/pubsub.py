"""Following Redis pub/sub channels for as long as a service runs.

Redis drops a subscriber when its connection breaks (a Redis restart, a network blip), and
nothing published in between is replayed. Every follower here therefore resubscribes after a
short delay, for ever, until its task is cancelled, and clears its `ready` event while it is
not subscribed, so readiness checks can tell. What a message means stays with the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

RECONNECT_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class Published:
    """One message: the channel it came on (decoded), and its payload as sent."""

    channel: str
    data: bytes


Handler = Callable[[Published], Awaitable[None]]


async def follow(
    redis: Redis,
    handle: Handler,
    *,
    channels: Sequence[str] = (),
    patterns: Sequence[str] = (),
    ready: asyncio.Event | None = None,
    name: str,
    logger: structlog.typing.FilteringBoundLogger | None = None,
    reconnect_delay_s: float = RECONNECT_DELAY_S,
) -> NoReturn:
    """Subscribe to `channels` and `patterns` and await `handle` on each message, in order;
    resubscribe after a lost connection, logging `<name>_subscription_lost` (on `logger`, to
    carry its bound ids). Runs until cancelled. A handler's own exceptions are not caught:
    they end the follower."""
    if not channels and not patterns:
        raise ValueError("follow needs a channel or a pattern")
    while True:
        try:
            async with redis.pubsub() as pubsub:
                if channels:
                    await pubsub.subscribe(*channels)
                if patterns:
                    await pubsub.psubscribe(*patterns)
                if ready is not None:
                    ready.set()
                async for message in pubsub.listen():
                    if message["type"] not in ("message", "pmessage"):
                        continue  # (p)subscribe confirmations
                    channel = message["channel"]
                    if isinstance(channel, bytes):
                        channel = channel.decode("utf-8", "replace")
                    data = message["data"]
                    await handle(
                        Published(channel, data if isinstance(data, bytes) else data.encode())
                    )
        except (RedisError, OSError) as exc:
            if ready is not None:
                ready.clear()
            (logger or log).warning(f"{name}_subscription_lost", error=str(exc))
            await asyncio.sleep(reconnect_delay_s)
