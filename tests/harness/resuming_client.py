"""A voice client (raw format) that survives a dropped connection the way the web client does:
it counts every frame both ways, keeps what it sends, and on a resume sends again everything
after the gateway's count (what was lost in flight, and what it "captured" while away).

Used by the resume tests and `bench/resume.py`. `drop()` aborts the TCP connection without a
close frame, which is what a Wi-Fi blip or a locked phone looks like to the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from harness.voice_clients import VoiceClient


@dataclass
class Received:
    """One frame from the gateway: when it came, and what it was."""

    at: float
    frame: bytes | str


@dataclass
class ResumingClient:
    # url(resume) -> the socket's address; `resume` is the session id to carry on, or None.
    url: Callable[[str | None], str]
    connect_options: dict[str, Any] = field(default_factory=dict)
    # The wire format (raw or rtvi): how frames are read. Audio to send is encoded by the
    # caller (`codec.audio(pcm)`); the resume request and answer are JSON text in both.
    codec: VoiceClient = field(default_factory=lambda: VoiceClient("raw"))
    received: list[Received] = field(default_factory=list)
    sent: list[bytes | str] = field(default_factory=list)  # every frame, in order
    session_id: str | None = None
    resume_key: str | None = None
    resumed: list[dict[str, Any]] = field(default_factory=list)  # the `resumed` answers
    resumed_at: float | None = None  # when the last `resumed` answer came
    closes: list[tuple[int | None, str]] = field(default_factory=list)
    _ws: ClientConnection | None = None
    _reader: asyncio.Task[None] | None = None
    _delivered: int = 0  # frames of `sent` handed to a connection

    # -- what it heard -------------------------------------------------------------------------

    def messages(self, type_: str | None = None) -> list[dict[str, Any]]:
        found = [m for r in self.received if (m := self.codec.decode(r.frame).message)]
        return [m for m in found if type_ is None or m.get("type") == type_]

    def audio_bytes(self) -> int:
        return sum(len(self.codec.decode(r.frame).audio or b"") for r in self.received)

    def audio_at(self) -> list[float]:
        """When each audio frame came."""
        return [r.at for r in self.received if self.codec.decode(r.frame).audio]

    @property
    def connected(self) -> bool:
        return self._ws is not None

    # -- connections --------------------------------------------------------------------------

    async def start(self) -> None:
        """A new session: connected once the gateway's `started` message has come."""
        await self._open(None)
        for frame in self.codec.hello():
            await self.send(frame)
        started = await self.wait_for(lambda: self.messages("session"), "the started message")
        self.session_id = started[0]["session_id"]
        self.resume_key = started[0]["resume_key"]

    async def resume(self) -> dict[str, Any]:
        """Carry the session on over a new connection; returns the `resumed` answer (raises
        `ConnectionClosed` with the refusal if there is none)."""
        assert self.session_id is not None
        assert self.resume_key is not None
        ws = await connect(self.url(self.session_id), **self.connect_options)
        request = {"type": "resume", "resume_key": self.resume_key, "received": len(self.received)}
        await ws.send(json.dumps(request))
        try:
            answer: dict[str, Any] = json.loads(await ws.recv())
        except ConnectionClosed:
            self.closes.append((ws.close_code, ws.close_reason or ""))
            raise
        self.resumed_at = time.monotonic()
        self.resumed.append(answer)
        self._attach(ws)
        # Everything after the gateway's count goes again, in order, then what comes next.
        self._delivered = int(answer["received"])
        await self._flush()
        return answer

    def drop(self) -> None:
        """The network goes: no close frame, the TCP connection just ends."""
        ws = self._ws
        self._detach()
        if ws is not None:
            ws.transport.abort()

    async def close(self) -> None:
        """Hang up (1000): the session ends."""
        ws = self._ws
        self._detach()
        if ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await ws.close()

    async def send(self, frame: bytes | str) -> None:
        """Sent now if connected, else kept for the resume (as the web client captures on)."""
        self.sent.append(frame)
        await self._flush()

    async def wait_for(self, probe: Callable[[], Any], what: str, timeout_s: float = 20) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (found := probe()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
            await asyncio.sleep(0.01)
        return found

    # -- inside -----------------------------------------------------------------------------------

    async def _open(self, resume: str | None) -> None:
        self._attach(await connect(self.url(resume), **self.connect_options))

    def _attach(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws))

    def _detach(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        self._ws = self._reader = None

    async def _flush(self) -> None:
        while self._ws is not None and self._delivered < len(self.sent):
            frame = self.sent[self._delivered]
            try:
                await self._ws.send(frame)
            except ConnectionClosed:
                return  # the frame stays unconfirmed: the next resume sends it again
            self._delivered += 1

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                self.received.append(Received(time.monotonic(), frame))
        except ConnectionClosed:
            pass
        self.closes.append((ws.close_code, ws.close_reason or ""))
        if self._ws is ws:
            self._ws = None
