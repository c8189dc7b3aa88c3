"""Waiting on conditions (never on the clock): poll a predicate until it holds or time runs out."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02


def wait_until(probe: Callable[[], T], *, timeout_s: float = 10.0, what: str = "condition") -> T:
    """Return the first truthy value of `probe()`; raise AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T = probe()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what} (last: {last!r})"
            )
        time.sleep(POLL_S)
        last = probe()
    return last


async def async_wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout_s: float = 10.0,
    what: str = "condition",
    detail: list[str] | None = None,
) -> T:
    """`probe()`'s first true answer, within `timeout_s`. On a timeout, the lines of `detail`
    (a log the caller keeps) go into the failure, to say why."""
    deadline = time.monotonic() + timeout_s
    last: T = await probe()
    while not last:
        if time.monotonic() > deadline:
            tail = "\n".join((detail or [])[-40:])
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what} (last: {last!r})"
                + (f"\n{tail}" if tail else "")
            )
        await asyncio.sleep(POLL_S)
        last = await probe()
    return last
