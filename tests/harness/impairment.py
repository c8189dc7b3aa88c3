"""A weak network between a client and the stack, inside this machine: a TCP relay that delays,
jitters and stalls what passes through it, in order.

This kernel has no `netem`, so delay and jitter cannot come from `tc`. The relay reads what each
side sends and delivers every chunk at `now + delay + jitter`, never before the chunk ahead of
it (TCP keeps order, so a late chunk holds back those behind it, as on a real link). Every
`stall_every_s`, delivery stops for `stall_ms` (a Wi-Fi blip). TLS and WebSockets pass through
untouched: point a browser at the relay's port instead of nginx's.

The jitter is drawn from a fixed-seed generator, so a run is the same on every machine: what
differs between runs is only the machine's own timing.

The relay writes down when each chunk came in and went out (`ImpairedLink.passages`, per client
connection), so a benchmark can tell what the link itself added to a turn's mouth-to-ear time
from what the rest of the path added (`Passages.link_ms`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Impairment:
    """One direction's conditions, in milliseconds."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0  # each chunk: delay + uniform(-jitter, +jitter), never below 0
    stall_every_s: float = 0.0  # 0: no stalls
    stall_ms: float = 0.0
    seed: int = 20261203

    @property
    def clean(self) -> bool:
        return self.delay_ms == self.jitter_ms == self.stall_ms == 0


CLEAN = Impairment()
# A weak Wi-Fi link as the audio-quality target describes it: 40 ms +- 30 ms.
WEAK_WIFI = Impairment(delay_ms=40, jitter_ms=30)


# A voiced frame's sender notes its time just after the send returns; the relay, in another
# process, may have read it a moment before that.
SENDER_SLACK_MS = 5.0

Passage = tuple[float, float]  # (came in, went out), ms on the machine's monotonic clock


@dataclass
class Passages:
    """One client connection's chunks through the relay, in order, each way."""

    up: list[Passage] = field(default_factory=list)  # client -> stack
    down: list[Passage] = field(default_factory=list)  # stack -> client

    def link_ms(self, sent_ms: float, arrived_ms: float) -> float | None:
        """What the link took of a turn: from the client sending its last voiced audio at
        `sent_ms` until the relay passed it on, plus from the relay reading the answer's first
        audio until it reached the client at `arrived_ms`. None if either is not on record."""
        ins = [came for came, _ in self.up]
        at = bisect_left(ins, sent_ms - SENDER_SLACK_MS)  # the first chunk read after the send
        outs = [went for _, went in self.down]
        before = bisect_right(outs, arrived_ms) - 1  # the last chunk written before it arrived
        if at == len(self.up) or before < 0:
            return None
        up = self.up[at][1] - sent_ms
        down = arrived_ms - self.down[before][0]
        return up + down


class _Pump:
    """One direction: chunks read from `reader`, written to `writer` when they are due, each
    chunk's passage noted in `passages`."""

    def __init__(self, impairment: Impairment, passages: list[Passage] | None = None) -> None:
        self._impairment = impairment
        self._passages = passages if passages is not None else []
        self._random = random.Random(impairment.seed)
        self._last_due = 0.0
        self._started = time.monotonic()

    def due(self, now: float) -> float:
        spec = self._impairment
        wait = spec.delay_ms + self._random.uniform(-spec.jitter_ms, spec.jitter_ms)
        due = max(self._last_due, now + max(0.0, wait) / 1000)
        if spec.stall_every_s > 0 and spec.stall_ms > 0:
            # Inside a stall window, nothing is delivered until the window ends.
            since = due - self._started
            window = since % spec.stall_every_s
            if window < spec.stall_ms / 1000:
                due += spec.stall_ms / 1000 - window
        self._last_due = due
        return due

    async def run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, came, data = await queue.get()
                if not data:
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # the impairment itself: holding data back
                writer.write(data)
                self._passages.append((came * 1000, time.monotonic() * 1000))
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while data := await reader.read(CHUNK):
                now = time.monotonic()
                queue.put_nowait((self.due(now), now, data))
        except (ConnectionError, OSError):
            pass
        finally:
            # Deliver what is still held back, then close: always, even when cancelled, so no
            # socket outlives the link.
            queue.put_nowait((0.0, 0.0, b""))
            try:
                with contextlib.suppress(ConnectionError, OSError):
                    await delivering
            finally:
                delivering.cancel()
                writer.close()
                with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                    await writer.wait_closed()


class ImpairedLink:
    """`async with ImpairedLink(port, down=WEAK_WIFI) as link:` then connect to `link.port`."""

    def __init__(
        self,
        target_port: int,
        *,
        down: Impairment = CLEAN,  # stack -> client (the assistant's audio)
        up: Impairment = CLEAN,  # client -> stack (the microphone)
        host: str = "127.0.0.1",
        listen_host: str = "127.0.0.1",  # a capped link's host_ip (capped_link.py)
    ) -> None:
        self._target = (host, target_port)
        self._listen_host = listen_host
        self._down, self._up = down, up
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Each client connection's passages, by the client's port (its socket's local port).
        self.passages: dict[int, Passages] = {}

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> ImpairedLink:
        self._server = await asyncio.start_server(self._accept, self._listen_host, 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()  # each pump then delivers what it holds and closes its side
        if tasks:
            _done, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:  # a peer that reads nothing: drop what is held back
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await task
        await self._server.wait_closed()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        passages = self.passages.setdefault(client_w.get_extra_info("peername")[1], Passages())
        for pump in (
            _Pump(self._up, passages.up).run(client_r, server_w),
            _Pump(self._down, passages.down).run(server_r, client_w),
        ):
            task = asyncio.create_task(pump)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
