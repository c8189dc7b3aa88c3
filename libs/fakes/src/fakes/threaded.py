"""What every fake server does to run either in the test's event loop (`async with`) or in a
thread of its own (`with`, or `start_in_thread()`/`stop()`, for sync tests and benchmarks)."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from fakes.realtime.recording import Recorder

T = TypeVar("T")


class ThreadableServer(ABC):
    thread_name = "fake-server"
    _recorder: Recorder  # what the server saw; waits wake on its changes

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None  # set by `start()`
        self._thread: threading.Thread | None = None
        self._stop_requested: asyncio.Event | None = None

    @abstractmethod
    async def start(self) -> None:
        """Listen; sets `self._loop` to the running loop."""

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    def _report(self, exc: BaseException) -> None:
        """Record an exception raised inside the server (tests expect none)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start_in_thread(self, timeout_s: float = 10.0) -> Self:
        """Run the server in a daemon thread with its own event loop; returns once listening."""
        ready = threading.Event()
        failures: list[BaseException] = []

        async def main() -> None:
            try:
                self._stop_requested = asyncio.Event()
                await self.start()
            except BaseException as exc:
                failures.append(exc)
                raise
            finally:
                ready.set()
            await self._stop_requested.wait()
            await self.aclose()

        def run() -> None:
            try:
                asyncio.run(main())
            except BaseException as exc:
                if not failures:
                    self._report(exc)

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise TimeoutError(f"{self.thread_name} did not start")
        if failures:
            self._thread.join()
            raise failures[0]
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop a server started with `start_in_thread()`."""
        thread, loop, stop = self._thread, self._loop, self._stop_requested
        if thread is None or loop is None or stop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(f"{self.thread_name} did not stop")
        self._thread = None

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_for(
        self, predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "condition"
    ) -> T:
        """Block until `predicate()` is truthy (re-checked on every recorded change); return
        it. From a thread other than the server's loop (use `async_wait_for` there)."""
        if self._loop is not None and self._running_in_server_loop():
            raise RuntimeError("wait_for would block the server's loop: use async_wait_for")
        return self._recorder.wait_for(predicate, timeout_s, what)

    async def async_wait_for(
        self, predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "condition"
    ) -> T:
        return await self._recorder.async_wait_for(predicate, timeout_s, what)

    def _running_in_server_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False
