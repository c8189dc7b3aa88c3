"""Devices that joined a live session (`?join=live`): they hear everything the session sends,
and a speaker's microphone reaches the pipeline when it holds the floor (floor.py).

A name is one device. A device joining under a name that a joined device holds is that device
again (a phone back from sleep, before the gateway saw its old connection drop) only if both
carry the same `device_id` (the web client keeps one per browser); its old connection is then
replaced. Any other device gets the name numbered: "Phone (2)". No device is ever put out by
another one's name.

A guest is not the session's own connection: it has no resume of its own (it joins again),
and its frames do not count in the session's resume counts. Its text frames are not passed on
(pings and stats belong to the session's own device), except `stop`, which makes it leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from starlette.types import Message
from starlette.websockets import WebSocket

from contracts.session import CloseCode

log = structlog.get_logger(__name__)

Frame = bytes | str
NAME_MAX = 32  # characters in a device name (the `device` query's pattern)


@dataclass
class Guest:
    websocket: WebSocket
    device: str
    speaker: bool
    device_id: str | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None


class Guests:
    def __init__(
        self,
        *,
        deliver: Callable[[Guest, Message], None],
        on_left: Callable[[Guest], None],
    ) -> None:
        self._deliver = deliver  # an audio frame of a speaker, for the floor to judge
        self._on_left = on_left
        self._guests: list[Guest] = []

    def __len__(self) -> int:
        return len(self._guests)

    @property
    def devices(self) -> list[str]:
        return [g.device for g in self._guests]

    @property
    def speakers(self) -> int:
        return sum(g.speaker for g in self._guests)

    def named(self, device: str) -> Guest | None:
        return next((g for g in self._guests if g.device == device), None)

    def carrier(self) -> Guest | None:
        """Who carries the stream when the session's own device is gone: the oldest speaker (a
        listener's microphone never reaches the pipeline), else the oldest device."""
        speakers = [g for g in self._guests if g.speaker]
        carriers = speakers or self._guests
        return carriers[0] if carriers else None

    def add(self, guest: Guest) -> None:
        self._guests.append(guest)
        guest.reader = asyncio.create_task(self._read(guest), name="guest-reader")

    async def broadcast(self, frame: Frame) -> None:
        """Every device at once, so one slow device delays the others by no more than its own
        send timeout (the session sets a short one on guests: it drops them, not the session)."""
        await asyncio.gather(*(self._send(guest, frame) for guest in list(self._guests)))

    async def replace(self, stale: Guest) -> None:
        """`stale`'s device joined again on another connection (a phone back from sleep, whose
        old connection the gateway has not yet seen drop): the old one goes."""
        self._leave(stale)
        with contextlib.suppress(Exception):
            await stale.websocket.close(CloseCode.REPLACED, "joined again on another connection")

    async def close_all(self, code: int, reason: str) -> None:
        for guest in list(self._guests):
            self._leave(guest)
            with contextlib.suppress(Exception):
                await guest.websocket.close(code, reason)

    async def _send(self, guest: Guest, frame: Frame) -> None:
        try:
            if isinstance(frame, bytes):
                await guest.websocket.send_bytes(frame)
            else:
                await guest.websocket.send_text(frame)
        except Exception:  # gone, or too slow: the reader says so too, once
            self._leave(guest)

    async def _read(self, guest: Guest) -> None:
        try:
            while True:
                message = await guest.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is not None:
                    if _is_stop(text):
                        with contextlib.suppress(Exception):
                            await guest.websocket.close(CloseCode.NORMAL, "left")
                        break
                    continue
                if guest.speaker and message.get("bytes") is not None:
                    self._deliver(guest, message)
        except Exception:  # a connection that fails however it fails has left
            log.debug("guest_connection_failed", device=guest.device)
        self._leave(guest)

    def _leave(self, guest: Guest) -> None:
        if guest not in self._guests:
            return
        self._guests.remove(guest)
        guest.released.set()
        if guest.reader is not None and guest.reader is not asyncio.current_task():
            guest.reader.cancel()
        self._on_left(guest)


def free_name(device: str, taken: list[str]) -> str:
    """`device` numbered to a name not in `taken` ("Phone (2)"), within the 32 characters a
    device name may have."""
    for n in range(2, len(taken) + 3):
        suffix = f" ({n})"
        name = device[: NAME_MAX - len(suffix)].rstrip() + suffix
        if name not in taken:
            return name
    raise AssertionError("unreachable: fewer names are taken than tried")


def _is_stop(text: str) -> bool:
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "stop"
