"""A session's tool caller knows when a call is in flight, so progress waits for its result."""

import asyncio
from typing import Any

from voice_gateway.tools.definitions import ToolCaller


def _caller() -> ToolCaller:
    def nothing(*_: Any) -> None:
        return None

    return ToolCaller(None, "c", 5.0, nothing, nothing)  # type: ignore[arg-type]


async def test_idle_waits_for_every_call_in_flight() -> None:
    caller = _caller()
    await asyncio.wait_for(caller.idle(), 1)  # nothing in flight: at once
    first, second, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def call(started: asyncio.Event) -> None:
        async with caller.busy():
            started.set()
            await release.wait()

    calls = [asyncio.create_task(call(first)), asyncio.create_task(call(second))]
    await first.wait()
    await second.wait()
    waiting = asyncio.create_task(caller.idle())
    await asyncio.sleep(0)  # let it run up to its wait: it must still be waiting
    assert not waiting.done()
    release.set()
    await asyncio.wait_for(waiting, 1)
    await asyncio.gather(*calls)
