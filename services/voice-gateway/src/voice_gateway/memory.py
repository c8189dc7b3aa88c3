"""Keeping the gateway's memory where its sessions need it, for as long as it runs.

A local-brain session allocates and frees hundreds of MB in large buffers (Whisper's window and
its layers' outputs, Piper's decoder, the ONNX models' tensors, audio queued while the CPU is
busy). glibc serves a large block from its heap once it has seen blocks of that size freed (its
mmap threshold rises up to 32 MB), and the heap cannot shrink past blocks still in use: freed
memory stayed resident, scattered, and the gateway grew session after session (measured:
malloc's in-use bytes flat at 176 MB while its heaps reached 620 MB). Two settings keep it flat
(glibc only; elsewhere they do nothing):
- `tune_allocator()`, at start: every block of 8 MiB or more is its own mapping, returned to the
  system the moment it is freed (a fixed threshold: it no longer rises). Lower thresholds kept
  even less, but made Whisper about 12 % slower (each of its layers' buffers a fresh mapping);
- `MemoryReturn`, after sessions end: `malloc_trim(0)` hands back the free pages of the heaps.
  It takes a few ms, so it runs in a thread, at most once per `min_interval_s`.
"""

from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable

from voice_gateway import metrics

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 8 * 1024 * 1024


def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    function: Callable[..., int] | None = getattr(libc, name, None)
    return function


def tune_allocator() -> bool:
    """Large blocks as their own mappings (see above); True when the C library took it."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


class MemoryReturn:
    def __init__(self, min_interval_s: float = 5.0) -> None:
        self._trim = _libc_function("malloc_trim")
        self._min_interval_s = min_interval_s
        self._last = float("-inf")
        self._pending: asyncio.Task[None] | None = None

    def session_ended(self) -> None:
        """Give memory back soon (one trim covers every session that ended before it runs)."""
        if self._trim is None or (self._pending is not None and not self._pending.done()):
            return
        self._pending = asyncio.get_running_loop().create_task(self._give_back(), name="trim")

    async def _give_back(self) -> None:
        assert self._trim is not None
        wait = self._last + self._min_interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = started = time.monotonic()
        await asyncio.to_thread(self._trim, 0)
        metrics.MEMORY_TRIM_SECONDS.observe(time.monotonic() - started)
