"""The allocator settings that keep the gateway's memory flat (glibc, as in the images)."""

import asyncio

from prometheus_client import REGISTRY

from voice_gateway.memory import MemoryReturn, tune_allocator


def _trims() -> float:
    return REGISTRY.get_sample_value("gateway_memory_trim_seconds_count") or 0.0


def test_large_blocks_are_their_own_mappings() -> None:
    assert tune_allocator()


async def test_sessions_ending_together_give_memory_back_once() -> None:
    memory, before = MemoryReturn(min_interval_s=60), _trims()
    for _ in range(5):
        memory.session_ended()
    assert memory._pending is not None
    await memory._pending
    assert _trims() == before + 1
    memory.session_ended()  # within the interval: waits for it (not run in this test)
    assert memory._pending is not None
    assert not memory._pending.done()
    memory._pending.cancel()
    await asyncio.gather(memory._pending, return_exceptions=True)
