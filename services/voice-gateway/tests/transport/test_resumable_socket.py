"""The socket a session's transport writes to: counting, the replay buffer, detaching and
expiry, replacing a live connection, and closes that say why. The connections under it are
in-memory stand-ins for Starlette's WebSocket (the real thing runs in
tests/integration/test_voice_gateway_resume.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket, WebSocketState

from contracts.session import CloseCode, EndReason
from voice_gateway.transport.resumable_socket import ResumableSocket, ResumeRefused


class _Connection:
    """One client connection: frames in through `incoming`, frames out recorded."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.out: list[bytes | str] = []
        self.closed: list[tuple[int, str | None]] = []

    def say(self, data: bytes) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "bytes": data})

    def drop(self, code: int = 1006) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": code})

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_bytes(self, data: bytes) -> None:
        self.out.append(data)

    async def send_text(self, data: str) -> None:
        self.out.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append((code, reason))


def _ws(connection: _Connection) -> WebSocket:
    return cast(WebSocket, connection)


def _socket(
    connection: _Connection,
    *,
    reason: list[str] | None = None,
    resume_s: float = 30,
    replay_bytes: int = 1000,
    expired: list[bool] | None = None,
) -> ResumableSocket:
    why = reason or [str(EndReason.CLIENT_CLOSED)]
    return ResumableSocket(
        _ws(connection),
        end_reason=lambda: why[0],
        resume_s=resume_s,
        replay_bytes=replay_bytes,
        on_expired=(lambda: expired.append(True)) if expired is not None else None,
    )


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_drop_detaches_and_a_resume_replays_what_was_missed() -> None:
    first, second = _Connection(), _Connection()
    socket = _socket(first)
    first.say(b"a")
    assert (await socket.receive())["bytes"] == b"a"
    await socket.send_bytes(b"1")
    first.drop()
    await _settle()
    assert not socket.attached
    assert socket.client_state == WebSocketState.CONNECTED  # the transport writes on
    await socket.send_bytes(b"2")
    await socket.send_text("three")
    resumed = await socket.attach(_ws(second), client_received=1, answer=lambda r: "answer")
    assert (resumed.received, resumed.replayed, resumed.skipped) == (1, 2, 0)
    assert second.out == ["answer", b"2", "three"]
    assert first.out == [b"1"]
    second.say(b"b")
    assert (await socket.receive())["bytes"] == b"b"
    assert socket.received == 2


async def test_a_gap_longer_than_the_buffer_says_what_was_skipped() -> None:
    first, second = _Connection(), _Connection()
    socket = _socket(first, replay_bytes=4)
    first.drop()
    await _settle()
    for chunk in (b"11", b"22", b"33", b"44"):
        await socket.send_bytes(chunk)
    resumed = await socket.attach(_ws(second), client_received=0)
    assert (resumed.replayed, resumed.skipped) == (2, 2)
    assert second.out == [b"33", b"44"]


async def test_a_count_never_sent_is_refused_and_changes_nothing() -> None:
    first, second = _Connection(), _Connection()
    socket = _socket(first)
    await socket.send_bytes(b"1")
    first.drop()
    await _settle()
    with pytest.raises(ResumeRefused, match="received 5 frames, but 1 were sent"):
        await socket.attach(_ws(second), client_received=5)
    assert not socket.attached
    resumed = await socket.attach(_ws(second), client_received=0)
    assert resumed.replayed == 1


async def test_a_resume_takes_over_a_live_connection() -> None:
    first, second = _Connection(), _Connection()
    socket = _socket(first)
    await socket.attach(_ws(second), client_received=0)
    assert first.closed == [(CloseCode.REPLACED, "resumed on another connection")]
    first.say(b"late")  # a replaced connection's frames never reach the pipeline
    second.say(b"new")
    assert (await socket.receive())["bytes"] == b"new"


async def test_a_normal_close_ends_at_once_and_a_drop_ends_after_the_window() -> None:
    hung_up = _Connection()
    socket = _socket(hung_up)
    hung_up.drop(1000)
    assert (await socket.receive())["type"] == "websocket.disconnect"
    assert socket.client_state == WebSocketState.DISCONNECTED

    dropped, expired = _Connection(), []
    socket = _socket(dropped, resume_s=0.05, expired=expired)
    dropped.drop()
    assert (await asyncio.wait_for(socket.receive(), 5))["type"] == "websocket.disconnect"
    assert expired == [True]
    with pytest.raises(ResumeRefused, match="ended"):
        await socket.attach(_ws(_Connection()), client_received=0)


async def test_a_close_carries_the_sessions_end() -> None:
    reason = [str(EndReason.UPSTREAM_ERROR)]
    connections = [_Connection() for _ in range(4)]
    for connection, why in zip(
        connections,
        [EndReason.UPSTREAM_ERROR, EndReason.SHUTDOWN, EndReason.IDLE, "operator's own words"],
        strict=True,
    ):
        reason[0] = str(why)
        await _socket(connection, reason=reason).close()  # as Pipecat does, with its 1000
    assert [c.closed for c in connections] == [
        [(CloseCode.INTERNAL_ERROR, "upstream_error")],
        [(CloseCode.GOING_AWAY, "shutdown")],
        [(CloseCode.NORMAL, "idle")],
        [(CloseCode.NORMAL, "operator's own words")],
    ]


async def _join(
    socket: ResumableSocket, device: str, *, speaker: bool = True, device_id: str | None = None
) -> _Connection:
    connection = _Connection()
    await socket.join(
        _ws(connection),
        device,
        speaker=speaker,
        answer=lambda name: f"joined as {name}",
        device_id=device_id,
    )
    return connection


async def test_a_device_that_joins_again_replaces_its_stale_connection() -> None:
    own = _Connection()
    socket = _socket(own)
    stale = await _join(socket, "Phone", device_id="phone-id-0123456789")
    # Back from sleep before its old connection was seen to drop: the same device, by its id.
    fresh = await _join(socket, "Phone", device_id="phone-id-0123456789")
    assert stale.closed == [(CloseCode.REPLACED, "joined again on another connection")]
    assert socket.devices == ["device-1", "Phone"]
    await socket.send_bytes(b"after")
    assert fresh.out == ["joined as Phone", b"after"]
    assert stale.out == ["joined as Phone"]


async def test_another_device_asking_for_a_name_in_use_gets_it_numbered() -> None:
    own = _Connection()
    socket = _socket(own)
    first = await _join(socket, "Phone", device_id="phone-id-0123456789")
    other = await _join(socket, "Phone", device_id="other-id-0123456789")
    anonymous = await _join(socket, "Phone")  # no id: never taken for another device
    laptop = await _join(socket, "device-1")  # the session's own device's name
    assert socket.devices == ["device-1", "Phone", "Phone (2)", "Phone (3)", "device-1 (2)"]
    assert [c.out for c in (other, anonymous, laptop)] == [
        ["joined as Phone (2)"],
        ["joined as Phone (3)"],
        ["joined as device-1 (2)"],
    ]
    assert first.closed == []
    long = "L" * 32
    await _join(socket, long)
    await _join(socket, long)
    assert socket.devices[-1] == "L" * 28 + " (2)"  # still 32 characters


async def test_the_own_device_joins_back_under_its_name_once_it_has_left() -> None:
    own, gone = _Connection(), asyncio.Event()
    socket = ResumableSocket(
        _ws(own),
        end_reason=lambda: str(EndReason.CLIENT_CLOSED),
        resume_s=0.05,
        replay_bytes=1000,
        on_own_left=gone.set,
    )
    await _join(socket, "TV", speaker=False)
    own.drop()  # not back within the window: the TV carries the session on
    await asyncio.wait_for(gone.wait(), 5)
    assert socket.devices == ["TV"]
    with pytest.raises(ResumeRefused, match="join it again"):
        await socket.attach(_ws(_Connection()), client_received=0)
    again = await _join(socket, "device-1")  # its name is free again
    assert socket.devices == ["TV", "device-1"]
    await socket.send_text("still on")
    assert again.out == ["joined as device-1", "still on"]


async def test_a_speaker_carries_the_stream_when_the_own_device_leaves() -> None:
    own = _Connection()
    socket = _socket(own)
    await _join(socket, "TV", speaker=False)  # the oldest, but its microphone is never heard
    await _join(socket, "Phone")
    await socket.leave()
    assert socket.floor.owner == "Phone"


async def test_a_device_that_fails_leaves_and_the_others_still_hear() -> None:
    class _Broken(_Connection):
        async def send_bytes(self, data: bytes) -> None:
            raise OSError("connection reset")

    own = _Connection()
    left: list[str] = []
    socket = ResumableSocket(
        _ws(own),
        end_reason=lambda: str(EndReason.CLIENT_CLOSED),
        resume_s=30,
        replay_bytes=1000,
        on_guest_left=lambda guest: left.append(guest.device),
    )
    broken = _Broken()
    await socket.join(_ws(broken), "Broken", speaker=True, answer=lambda name: "joined")
    tv = await _join(socket, "TV", speaker=False)
    await socket.send_bytes(b"audio")
    assert left == ["Broken"]
    assert own.out == [b"audio"]
    assert tv.out == ["joined as TV", b"audio"]
    assert socket.devices == ["device-1", "TV"]
