"""Chromium and changes to this machine's network interfaces, kept apart.

Chromium watches the machine's interfaces. When an address comes or goes (a Docker network
created or removed by `docker compose up`/`down`, the veth pair of a capped link), it takes the
network to have changed and fails the loads it has in flight with `net::ERR_NETWORK_CHANGED`,
loads from localhost included. A browser test running on one pytest-xdist worker while the other
worker starts the compose stack then fails for a reason that has nothing to do with the product.
It did in CI; a loop adding and removing a veth with an address beside `tests/e2e/test_browser.py`
fails it in one or two runs of three.

So the two never overlap. Code that adds or removes an interface holds `changing_interfaces()`
(exclusive) while it does; every Chromium holds `browsing()` (shared) while it is open. The lock
is a file lock (flock), so it holds across test workers and benchmarks, which are processes of
their own. Containers started or stopped on a network that already exists add no address and
take no lock: a loop of them beside the same test never failed it.
"""

from __future__ import annotations

import asyncio
import fcntl
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "agentic-voice-interfaces.lock"

# Chromiums this process has open: changing an interface now would wait for this very process.
_browsing_here = 0


@contextmanager
def changing_interfaces(lock_file: Path = LOCK_FILE) -> Iterator[None]:
    """Held while adding or removing an interface: waits until no Chromium is open anywhere."""
    if _browsing_here:
        raise RuntimeError(
            "this process has a Chromium open: add or remove interfaces before opening it or "
            "after closing it (the interface lock would wait for this process itself)"
        )
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def browsing(lock_file: Path = LOCK_FILE) -> AsyncIterator[None]:
    """Held while a Chromium is open: waits, without blocking the event loop, for any change of
    interfaces under way to finish; any number of browsers hold it at once."""
    global _browsing_here
    with lock_file.open("a") as handle:
        # Cancelled while waiting (a test's timeout), the thread still takes the lock, on a file
        # closed by then: an flock lives with the open file, so the kernel drops it as soon as
        # that call returns. Nothing stays locked.
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_SH)
        _browsing_here += 1
        try:
            yield
        finally:
            _browsing_here -= 1
            fcntl.flock(handle, fcntl.LOCK_UN)
