"""A person on the line, as a browser client behaves: streams speech and silence at real time
in the raw format, hears the answers, and reconnects with backoff when the socket drops (as
the web client does). Everything it sees is recorded for the test to judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from harness.speech import frames, silence, speech_pcm

FRAME_S = 0.02
BURST_GAP_S = 0.3  # audio after this much quiet starts a new answer
RECONNECT_FIRST_S = 0.2
RECONNECT_MAX_S = 2.0


def utterance(text: str = "Hello, can you hear me?", silence_ms: int = 3000) -> list[bytes]:
    """One cycle of 20 ms frames: the spoken text, then silence long enough for the answer."""
    return list(frames(speech_pcm(text) + silence(silence_ms)))


@dataclass
class Connection:
    """One socket's life."""

    opened_at: float
    started_at: float | None = None  # the gateway's `session` `started` message
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    audio_bytes: int = 0
    first_audio_at: float | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Caller:
    url: str
    cycle: list[bytes]
    lead_frames: int = 0  # silent frames before the first utterance (spreads callers' turns)
    reconnect: bool = True
    tls: ssl.SSLContext | None = None  # for wss:// (nginx in front)
    connections: list[Connection] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # start time of each answer heard
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (when, seconds)
    refused: int = 0  # connection attempts that failed
    _speech_frames: int = 0
    _utterance_end: float | None = None
    _last_audio: float = float("-inf")
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None
    _ws: ClientConnection | None = None

    def __post_init__(self) -> None:
        quiet = bytes(len(self.cycle[0]))
        # Frames up to the last non-silent one: the end of the utterance is when it was sent.
        voiced = [i for i, frame in enumerate(self.cycle) if frame != quiet]
        self._speech_frames = (voiced[-1] + 1) if voiced else 0

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"caller {self.url}")

    async def stop(self) -> None:
        """Hang up (a clean close) and stop reconnecting."""
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- what it saw ------------------------------------------------------------------------

    @property
    def current(self) -> Connection | None:
        return self.connections[-1] if self.connections else None

    def messages(self, type_: str | None = None) -> list[dict[str, Any]]:
        return [
            m for c in self.connections for m in c.messages if type_ is None or m["type"] == type_
        ]

    @property
    def audio_bytes(self) -> int:
        """Assistant audio heard, over every connection."""
        return sum(c.audio_bytes for c in self.connections)

    def answers_since(self, t: float) -> int:
        return sum(1 for a in self.answers if a >= t)

    def hung_up(self) -> bool:
        return self._stopping

    def in_session(self) -> bool:
        conn = self.current
        return conn is not None and conn.started_at is not None and conn.closed_at is None

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = RECONNECT_FIRST_S
        while not self._stopping:
            try:
                ws = await connect(
                    self.url, open_timeout=10, max_size=2**20, compression=None, ssl=self.tls
                )
            except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
                self.refused += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            if self.hung_up():  # while this connection was being made
                await ws.close()
                return
            delay = RECONNECT_FIRST_S
            self._ws = ws
            conn = Connection(opened_at=time.monotonic())
            self.connections.append(conn)
            sender = asyncio.create_task(self._send(ws))
            try:
                await self._receive(ws, conn)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await sender
                conn.closed_at = time.monotonic()
                conn.close_code = ws.close_code
                conn.close_reason = ws.close_reason or ""
            if not self.reconnect:
                return

    async def _receive(self, ws: ClientConnection, conn: Connection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, bytes):
                    if now - self._last_audio > BURST_GAP_S:
                        self.answers.append(now)
                        if self._utterance_end is not None:
                            self.latencies.append((now, now - self._utterance_end))
                            self._utterance_end = None
                    self._last_audio = now
                    conn.audio_bytes += len(message)
                    if conn.first_audio_at is None:
                        conn.first_audio_at = now
                    continue
                event = json.loads(message)
                conn.messages.append(event)
                if event.get("type") == "session" and event.get("state") == "started":
                    conn.started_at = now

    async def _send(self, ws: ClientConnection) -> None:
        """Frames on a fixed 20 ms schedule, as a microphone delivers them."""
        start = time.monotonic()
        cycle = self.cycle
        i = 0
        while True:
            due = start + i * FRAME_S
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            k = i - self.lead_frames
            frame = cycle[k % len(cycle)] if k >= 0 else bytes(len(cycle[0]))
            await ws.send(frame)
            if k >= 0 and k % len(cycle) == self._speech_frames - 1:
                self._utterance_end = time.monotonic()
            i += 1
