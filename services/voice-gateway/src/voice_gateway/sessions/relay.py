"""Resuming a session that another gateway process holds (another worker of this replica, or
another replica), through Redis.

A resume lands wherever the front sends it; the session's pipeline lives in one process. The
process the client reached (the *relay*) asks, on the session's relay channel, for the session
to be carried on over a relayed connection; the process holding it (the *owner*) checks the
request as it would a local one and attaches a `RelayedConnection`, which looks to the session
like the client's socket. Frames then go client -> relay -> Redis -> owner and back, in order
(one pub/sub channel each way). Both ends send a keepalive every `KEEPALIVE_S`; an end that
hears nothing for `SILENCE_S` takes the other as gone (a relay that died: the session detaches
and waits for the next resume, as after any drop).

On a relay channel each message is one byte of kind, then the payload: `B` a binary frame, `T`
a text frame (UTF-8), `C` a close (JSON `{"code", "reason"}`), `K` a keepalive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import Any, cast

import structlog
from fastapi import WebSocket
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from starlette.types import Message

from contracts.browser import ResumeRequest
from contracts.keys import relay_channel, session_relay_channel
from contracts.session import CloseCode
from service_kit.pubsub import Published

log = structlog.get_logger(__name__)

KEEPALIVE_S = 2.0
SILENCE_S = 6.0
ANSWER_TIMEOUT_S = 5.0  # the owner answers a relayed resume at once, or is not there
TO_SESSION, TO_CLIENT = "to-session", "to-client"


class JoinAsk(BaseModel):
    """Another device joining the session (sessions/join.py), as the relay received it."""

    model_config = ConfigDict(extra="forbid")
    device: str | None
    speaker: bool
    wire_format: str
    device_id: str | None = None  # the joining device's own id: see transport/guests.py


class RelayRequest(BaseModel):
    """What the relay publishes on the session's relay channel: a resume, or a join."""

    model_config = ConfigDict(extra="forbid")
    relay_id: str
    conversation_id: str
    request: ResumeRequest | None = None
    join: JoinAsk | None = None


class RelayClosed(Exception):
    """The owner closed the relayed connection (or refused it): its code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _close(code: int, reason: str) -> bytes:
    return b"C" + json.dumps({"code": code, "reason": reason}).encode()


def _decode_close(payload: bytes) -> tuple[int, str]:
    try:
        body: Any = json.loads(payload)
        return int(body["code"]), str(body["reason"])
    except (ValueError, KeyError, TypeError):
        return 1006, ""


class _Channel:
    """One direction of a relayed connection: publish to one channel, read another, with
    keepalives both ways."""

    def __init__(self, redis: Redis, relay_id: str, *, send_to: str, read_from: str) -> None:
        self._redis = redis
        self._send_to = relay_channel(relay_id, send_to)
        self._read_from = relay_channel(relay_id, read_from)
        self._pubsub: PubSub | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self._read_from)
        self._keepalive = asyncio.create_task(self._beat(), name="relay-keepalive")

    async def send(self, kind: bytes, payload: bytes) -> None:
        await self._redis.publish(self._send_to, kind + payload)

    async def read(self) -> tuple[bytes, bytes]:
        """The next frame (kind, payload); a close `C` when the other end is silent too long."""
        assert self._pubsub is not None
        deadline = time.monotonic() + SILENCE_S
        while (left := deadline - time.monotonic()) > 0:
            # None also for a subscription's confirmation (ignored), not only on a timeout.
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is None:
                continue
            data: bytes = message["data"]
            deadline = time.monotonic() + SILENCE_S  # the other end is there
            if data[:1] != b"K":
                return data[:1], data[1:]
        return b"C", json.dumps({"code": 1006, "reason": "relay silent"}).encode()

    async def _beat(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            while True:
                await self.send(b"K", b"")
                await asyncio.sleep(KEEPALIVE_S)

    async def shut(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        self._pubsub = self._keepalive = None


class RelayedConnection:
    """On the owner: the client's connection as it comes through Redis. The four methods the
    session's socket uses of a WebSocket (resumable_socket.py)."""

    def __init__(self, redis: Redis, relay_id: str) -> None:
        self.relay_id = relay_id
        self._channel = _Channel(redis, relay_id, send_to=TO_CLIENT, read_from=TO_SESSION)
        self._closed = False

    async def open(self) -> None:
        await self._channel.open()

    def as_websocket(self) -> WebSocket:
        """This object, typed as the socket the session takes (it uses only the methods below)."""
        return cast(WebSocket, self)

    async def receive(self) -> Message:
        if self._closed:
            return {"type": "websocket.disconnect", "code": 1006}
        try:
            kind, payload = await self._channel.read()
        except (RedisError, OSError):
            kind, payload = b"C", b""
        if kind == b"B":
            return {"type": "websocket.receive", "bytes": payload}
        if kind == b"T":
            return {"type": "websocket.receive", "text": payload.decode()}
        code, _ = _decode_close(payload)
        await self._shut()
        return {"type": "websocket.disconnect", "code": code}

    async def send_bytes(self, data: bytes) -> None:
        await self._channel.send(b"B", data)

    async def send_text(self, data: str) -> None:
        await self._channel.send(b"T", data.encode())

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if not self._closed:
            with contextlib.suppress(RedisError, OSError):
                await self._channel.send(b"C", _close(code, reason or "")[1:])
        await self._shut()

    async def _shut(self) -> None:
        self._closed = True
        await self._channel.shut()


# -- the relay's side ------------------------------------------------------------------------


async def relay_resume(
    redis: Redis,
    websocket: WebSocket,
    conversation_id: str,
    session_id: str,
    request: ResumeRequest | None = None,
    *,
    join: JoinAsk | None = None,
) -> None:
    """Ask the owner to carry the session on over this connection (or to let this device join
    it), then pass frames both ways until either end closes. A refusal raises `RelayClosed` with
    the owner's code and reason."""
    relay_id = uuid.uuid4().hex
    channel = _Channel(redis, relay_id, send_to=TO_SESSION, read_from=TO_CLIENT)
    await channel.open()
    try:
        ask = RelayRequest(
            relay_id=relay_id, conversation_id=conversation_id, request=request, join=join
        )
        await redis.publish(session_relay_channel(session_id), ask.model_dump_json())
        try:
            kind, payload = await asyncio.wait_for(channel.read(), ANSWER_TIMEOUT_S)
        except TimeoutError:
            raise RelayClosed(
                CloseCode.RESUME_REFUSED, "the session's gateway did not answer"
            ) from None
        if kind == b"C":
            raise RelayClosed(*_decode_close(payload))
        await websocket.send_text(payload.decode())  # the `resumed` answer
        await _pump(channel, websocket)
    finally:
        await channel.shut()


async def _pump(channel: _Channel, websocket: WebSocket) -> None:
    async def upstream() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                await channel.send(b"C", _close(int(message.get("code") or 1006), "")[1:])
                return
            if message.get("bytes") is not None:
                await channel.send(b"B", message["bytes"])
            elif message.get("text") is not None:
                await channel.send(b"T", message["text"].encode())

    async def downstream() -> None:
        while True:
            kind, payload = await channel.read()
            if kind == b"B":
                await websocket.send_bytes(payload)
            elif kind == b"T":
                await websocket.send_text(payload.decode())
            else:
                code, reason = _decode_close(payload)
                with contextlib.suppress(Exception):
                    await websocket.close(code, reason)
                return

    tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# -- the owner's side ------------------------------------------------------------------------


def parse_relay_request(message: Published) -> tuple[str, RelayRequest] | None:
    """(session id, request) of a message on a session's relay channel; None if malformed."""
    session_id = message.channel.rsplit(":", 1)[-1]
    try:
        return session_id, RelayRequest.model_validate_json(message.data)
    except ValidationError:
        log.warning("relay_request_malformed", session_id=session_id)
        return None


async def refuse_relay(
    redis: Redis, relay_id: str, reason: str, code: int = CloseCode.RESUME_REFUSED
) -> None:
    with contextlib.suppress(RedisError, OSError):
        await redis.publish(relay_channel(relay_id, TO_CLIENT), _close(code, reason))
