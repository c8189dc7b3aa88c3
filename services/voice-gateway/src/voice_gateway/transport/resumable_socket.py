"""The browser's socket as a session's Pipecat transport sees it: one socket that outlives the
connections under it, and whose close says why the session ended.

**Resume.** A Wi-Fi blip, a locked phone or a restarted nginx drops the connection, not the
session. When a connection is lost without a close frame (or with a close the browser would
retry, `RETRYABLE_CLOSE_CODES`), the session is *detached*:
its pipeline, brain and tool runs go on, and what it sends is kept; the client has
`GATEWAY_RESUME_S` to come back (`attach`). Only if it does not does the transport see the
disconnect, and the session ends `resume_expired`.

Both directions are counted in frames, text and binary alike, across every connection of the
session:
- `sent`: frames the session sent. The last `replay_bytes` of them are kept (replay_buffer.py);
  a client that resumes says how many it received, and gets the rest again before anything new.
- `received`: frames that reached the pipeline. The resume answer tells the client, which sends
  again what it sent after that (what was lost in flight, and what it captured while away).

**Reasons.** Pipecat's transport closes the socket with 1000 when the pipeline ends, whatever
ended it. The browser should learn the real end instead: 1011 after a failure (it reconnects),
1001 when the gateway shuts down, and the end reason as the close reason.

**Other devices.** Devices that join the live session (guests.py) hear every frame the session
sends; while any of them may speak, the microphones go to the pipeline one at a time (floor.py).
The session's own device leaving (a hang-up, or a drop not resumed in time) ends the session
only if no other device is there; else the session goes on with them, and ends when the last
one leaves.

The transport uses only `receive`, `send_bytes`, `send_text`, `close` and the two `*_state`
attributes of the socket it is given; this class answers exactly those.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import structlog
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

from contracts.session import CLOSE_CODE_FOR_END, RETRYABLE_CLOSE_CODES, CloseCode
from voice_gateway.processors.levels import voiced
from voice_gateway.transport.floor import Floor
from voice_gateway.transport.guests import Guest, Guests, free_name
from voice_gateway.transport.replay_buffer import ReplayBuffer

log = structlog.get_logger(__name__)

Frame = bytes | str
DISCONNECT: Message = {"type": "websocket.disconnect", "code": 1006}


class ResumeRefused(Exception):
    """A resume that cannot be honoured; the session is left as it was."""


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a resume did: the client's answer (`received`), and how much was sent again."""

    received: int  # frames of the client that reached the pipeline: it sends the rest again
    replayed: int  # frames sent again, that the client had not received
    skipped: int  # frames the client missed that were no longer kept (gap over the buffer)
    gap_s: float  # how long the session was detached (0 when it took over a live connection)


class ResumableSocket:
    def __init__(
        self,
        websocket: WebSocket,
        *,
        end_reason: Callable[[], str],
        resume_s: float,
        replay_bytes: int,
        device: str = "device-1",
        on_detached: Callable[[int], None] | None = None,
        on_expired: Callable[[], None] | None = None,
        on_floor: Callable[[str | None], None] | None = None,
        on_guest_left: Callable[[Guest], None] | None = None,
        on_own_left: Callable[[], None] | None = None,
    ) -> None:
        self.device = device
        self._end_reason = end_reason
        self._on_guest_left = on_guest_left
        self._on_own_left = on_own_left
        self.floor = Floor(owner=device, on_change=on_floor)
        self.guests = Guests(deliver=self._from_guest, on_left=self._guest_left)
        self._own_gone = False  # the session's own device left for good; guests carry on
        self._resume_s = resume_s
        self._on_detached = on_detached
        self._on_expired = on_expired
        self.sent = 0
        self.received = 0
        self._replay = ReplayBuffer(replay_bytes)
        self._send_lock = asyncio.Lock()
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._current: WebSocket | None = None
        self._released: asyncio.Event | None = None  # set when the current socket is let go
        self._reader: asyncio.Task[None] | None = None
        self._expiry: asyncio.Task[None] | None = None
        self.detached_at: float | None = None
        self._finished = False
        self._connect(websocket)

    # -- what Pipecat's transport sees -----------------------------------------------------------

    @property
    def client_state(self) -> WebSocketState:
        """Connected while the session lives, attached or not: the transport goes on writing
        (into the replay buffer) while the client is away."""
        return WebSocketState.DISCONNECTED if self._finished else WebSocketState.CONNECTED

    @property
    def application_state(self) -> WebSocketState:
        return self.client_state

    async def receive(self) -> Message:
        return await self._inbox.get()

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def send_text(self, data: str) -> None:
        await self._send(data)

    async def close(self, code: int = CloseCode.NORMAL, reason: str | None = None) -> None:
        """The session is over: the connection (if any) closes with the session's end reason."""
        why = self._end_reason()
        websocket = self._current
        self._finish()
        code = CLOSE_CODE_FOR_END.get(why, code)
        await self.guests.close_all(code, reason or why)
        if websocket is not None:
            with contextlib.suppress(Exception):  # already gone, usually
                await websocket.close(code, reason or why)

    def as_websocket(self) -> WebSocket:
        """This object, typed as what Pipecat's transport asks for (it uses only the methods
        above, never the type)."""
        return cast(WebSocket, self)

    # -- connections -------------------------------------------------------------------------------

    @property
    def devices(self) -> list[str]:
        """The devices in the session: its own (until it left for good), then those that
        joined."""
        own = [] if self._own_gone else [self.device]
        return [*own, *self.guests.devices]

    @property
    def attached(self) -> bool:
        return self._current is not None

    async def attach(
        self,
        websocket: WebSocket,
        client_received: int,
        *,
        answer: Callable[[Resumed], str] | None = None,
    ) -> Resumed:
        """Carry the session on over `websocket`, whose client has received `client_received`
        of our frames: `answer(resumed)` (a text frame, not counted) goes first, then the
        frames it missed, then the new ones. A live connection is replaced."""
        if self._finished:
            raise ResumeRefused("the session has ended")
        if self._own_gone:
            raise ResumeRefused("this device left the session; join it again instead")
        if not 0 <= client_received <= self.sent:
            raise ResumeRefused(
                f"the client says it received {client_received} frames, but {self.sent} were sent"
            )
        async with self._send_lock:  # nothing new is sent until the missed frames are
            gap_s = 0.0 if self.detached_at is None else time.monotonic() - self.detached_at
            old = self._current
            if old is not None:
                self._let_go()
                with contextlib.suppress(Exception):
                    await old.close(CloseCode.REPLACED, "resumed on another connection")
            missed = self._replay.after(client_received, self.sent)
            self._connect(websocket)
            resumed = Resumed(self.received, len(missed.frames), missed.skipped, gap_s)
            frames: list[Frame] = [answer(resumed)] if answer is not None else []
            for frame in [*frames, *missed.frames]:
                if not await self._write(websocket, frame):
                    break  # lost again at once: the reader notices, the session waits again
        return resumed

    async def wait_released(self, websocket: WebSocket) -> None:
        """Until `websocket` is no longer this session's (dropped, replaced, or the end)."""
        released = self._released
        if self._current is websocket and released is not None:
            await released.wait()

    async def join(
        self,
        websocket: WebSocket,
        device: str,
        *,
        speaker: bool,
        answer: Callable[[str], str],
        device_id: str | None = None,
    ) -> Guest:
        """Another device joins: `answer(its name)` (not counted) first, then every frame from
        now on. A name is one device (guests.py): the same device joining again replaces its
        old connection; another device asking for a name in use gets it numbered."""
        async with self._send_lock:  # between two frames, never in the middle of a replay
            if self._finished:
                raise ResumeRefused("the session has ended")
            stale = self.guests.named(device)
            if stale is not None and not (device_id and stale.device_id == device_id):
                stale = None  # another device: a name of its own
                device = free_name(device, self.devices)
            elif stale is None and device in self.devices:  # the session's own device's name
                device = free_name(device, self.devices)
            await websocket.send_text(answer(device))
            guest = Guest(websocket, device, speaker, device_id)
            self.guests.add(guest)  # before the stale one goes: the session never looks empty
        if stale is not None:
            await self.guests.replace(stale)
        return guest

    async def leave(self) -> None:
        """The session's own device leaves (its `stop` while other devices are there): its
        connection closes, the session goes on with the others."""
        websocket = self._current
        self._let_go()
        self._own_left()
        if websocket is not None:
            with contextlib.suppress(Exception):
                await websocket.close(CloseCode.NORMAL, "left")

    def mark_gone(self) -> None:
        """The connection was aborted under us (a client that stopped reading): nothing more is
        written to it."""
        self._let_go()

    # -- inside ------------------------------------------------------------------------------------

    def _connect(self, websocket: WebSocket) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.detached_at = None
        self._current = websocket
        self._released = asyncio.Event()
        self._reader = asyncio.create_task(self._read(websocket), name="client-reader")

    async def _read(self, websocket: WebSocket) -> None:
        code = 1006
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1006)
                    break
                if self._current is not websocket:
                    return  # replaced: its late frames are sent again on the new connection
                self.received += 1
                audio = message.get("bytes")
                shared = audio is not None and self.guests.speakers > 0
                if shared and not self.floor.admit(self.device, bytes(audio or b"")):
                    continue  # another device holds the floor
                named_after_other = self.floor.last_speaker not in (None, self.device)
                if not shared and named_after_other and voiced(bytes(audio or b"")):
                    # Alone again: this device's words are its own (a guest spoke last).
                    self.floor.last_speaker = self.device
                self._inbox.put_nowait(message)
        except Exception:
            code = 1006
        if self._current is websocket:
            self._lost(code)

    def _lost(self, code: int) -> None:
        """The current connection is gone: the session waits for its client to come back after
        a transient loss (no close frame, 1001, 1011-1014); any other close (1000, or the
        client broke the protocol: 1007, 1009) ends it."""
        self._let_go()
        if code not in RETRYABLE_CLOSE_CODES or self._resume_s <= 0 or self._finished:
            self._own_left()
            return
        self.detached_at = time.monotonic()
        if self._on_detached is not None:
            self._on_detached(code)
        self._expiry = asyncio.create_task(self._expire(), name="resume-window")

    async def _expire(self) -> None:
        await asyncio.sleep(self._resume_s)
        if self._current is None and not self._finished:
            if not len(self.guests) and self._on_expired is not None:
                self._on_expired()
            self._own_left()

    def _own_left(self) -> None:
        """The session's own device is gone for good: the session ends, unless other devices
        are there to carry it on (one of them carries the stream while the floor is free)."""
        carrier = self.guests.carrier()
        if carrier is None:
            self._finish()
            return
        if not self._own_gone and self._on_own_left is not None:
            self._on_own_left()
        self._own_gone = True
        self.floor.owner = carrier.device

    def _from_guest(self, guest: Guest, message: Message) -> None:
        if self.floor.admit(guest.device, message["bytes"]):
            self._inbox.put_nowait(message)

    def _guest_left(self, guest: Guest) -> None:
        self.floor.leave(guest.device)
        if self._on_guest_left is not None:
            self._on_guest_left(guest)
        if self._own_gone:
            self._own_left()  # the next guest carries the stream, or the session ends

    def _let_go(self) -> None:
        if self._released is not None:
            self._released.set()
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
        self._current = self._released = self._reader = None

    def _finish(self) -> None:
        """No more connections: the transport reads the disconnect and the pipeline ends."""
        if self._finished:
            return
        self._finished = True
        if self._expiry is not None:
            self._expiry.cancel()
        self._let_go()
        self._replay.clear()
        self._inbox.put_nowait(DISCONNECT)

    async def _send(self, frame: Frame) -> None:
        async with self._send_lock:
            if self._finished:
                return
            self.sent += 1
            self._replay.keep(self.sent, frame)
            websocket = self._current
            written = websocket is None or await self._write(websocket, frame)
            if not written and self._current is websocket:
                self._lost(1006)
            if len(self.guests):
                await self.guests.broadcast(frame)

    async def _write(self, websocket: WebSocket, frame: Frame) -> bool:
        try:
            if isinstance(frame, bytes):
                await websocket.send_bytes(frame)
            else:
                await websocket.send_text(frame)
        except Exception:
            return False
        return True
