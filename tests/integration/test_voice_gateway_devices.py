"""Several devices, one conversation: a second and a third device join the live session
(`?join=live`) as a speaker and a listener. Everyone hears the assistant and gets every message;
one microphone at a time reaches the brain (first to speak holds the floor); transcripts name
the device; leaving never ends the session for the others.

Real gateway processes (and Redis); the fake Realtime server plays the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.session import CloseCode
from fakes.openai_realtime import FakeRealtimeServer, Scenario, Speak
from harness.frozen_client import closed_by_peer, frozen_client
from harness.metrics import metric
from harness.services import StartGateway, ws_url
from harness.speech import frames, silence, speech_pcm
from harness.waiting import async_wait_until
from stack import ManagedProcess

CID = "conv-devices"
PHONE_ID = "device_id=phone-0123456789abcdef"


class Device:
    """One browser: its socket, everything it received, and a paced microphone."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[bytes | str] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.frames.append(frame)

    def messages(self, type_: str) -> list[dict[str, Any]]:
        found = [json.loads(f) for f in self.frames if isinstance(f, str)]
        return [m for m in found if m.get("type") == type_]

    def audio_bytes(self) -> int:
        return sum(len(f) for f in self.frames if isinstance(f, bytes))

    def user_transcripts(self) -> list[str | None]:
        return [m.get("device") for m in self.messages("transcription") if m["role"] == "user"]

    async def say(self, text: str, *, silence_ms: int = 1500) -> None:
        for frame in frames(speech_pcm(text) + silence(silence_ms)):
            await self.ws.send(frame)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def _url(gateway: ManagedProcess, query: str) -> str:
    return ws_url(gateway, f"/api/realtime/pipecat/ws/{CID}?{query}")


async def _open(gateway: ManagedProcess, query: str, first: str) -> Device:
    device = Device(await connect(_url(gateway, query)))
    await async_wait_until(lambda: _true(bool(device.messages("session"))), what=first)
    return device


async def _true(value: bool) -> bool:
    return value


async def _ge(value: Awaitable[float], least: float) -> bool:
    return await value >= least


async def _metric(gateway: ManagedProcess, name: str, **labels: str) -> float:
    return await metric(gateway.spec.url, name, **labels)


async def _refusal(gateway: ManagedProcess, query: str, cid: str = CID) -> str:
    async with connect(ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}?{query}")) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 15)
    assert ws.close_code == CloseCode.JOIN_REFUSED, (ws.close_code, ws.close_reason)
    return ws.close_reason or ""


async def test_devices_share_a_session_one_speaker_at_a_time(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    gateway = start_gateway()
    assert "no live session" in await _refusal(gateway, "join=live")
    laptop = await _open(gateway, "device=Laptop", "the session started")
    assert laptop.messages("session")[0]["device"] == "Laptop"
    phone = await _open(gateway, f"join=live&device=Phone&role=speaker&{PHONE_ID}", "joined")
    tv = await _open(gateway, "join=live&device=TV&role=listener", "the TV joined")
    assert phone.messages("session")[0] | {"timestamp": None} == {
        "type": "session",
        "state": "joined",
        "session_id": laptop.messages("session")[0]["session_id"],
        "conversation_id": CID,
        "device": "Phone",
        "role": "speaker",
        "timestamp": None,
    }
    assert "raw format" in await _refusal(gateway, "join=live&format=rtvi")
    # Another device asking for a name in use gets it numbered; nobody is put out.
    other = await _open(gateway, "join=live&device=Laptop&role=listener", "another joined")
    assert other.messages("session")[0]["device"] == "Laptop (2)"
    await other.close()
    # The phone back from sleep joins again before its old connection is seen to drop: the same
    # device (its id), so the new connection replaces the old one.
    stale = phone
    phone = await _open(gateway, f"join=live&device=Phone&role=speaker&{PHONE_ID}", "again")
    assert phone.messages("session")[0]["device"] == "Phone"
    await stale.reader
    assert (stale.ws.close_code, stale.ws.close_reason) == (
        CloseCode.REPLACED,
        "joined again on another connection",
    )
    [upstream] = realtime.connections()

    # The laptop speaks: everyone hears the answer, the transcript names the laptop.
    await laptop.say("Hello from the laptop.")
    for device in (laptop, phone, tv):
        await async_wait_until(lambda d=device: _true(d.audio_bytes() > 0), what="the answer")
    await async_wait_until(lambda: _true(laptop.user_transcripts() == ["Laptop"]), what="heard")

    # Both speak at once, the phone first: one turn, the phone's.
    turns = len(upstream.user_turns())
    phone_speaks = asyncio.create_task(phone.say("This is the phone speaking now."))
    await async_wait_until(
        lambda: _true({"type": "floor", "device": "Phone"}.items() <= _last_floor(tv).items()),
        what="the phone holds the floor",
    )
    await laptop.say("Me too.")  # shorter than the phone's: it ends while the phone holds
    await phone_speaks
    await async_wait_until(
        lambda: _true(tv.user_transcripts() == ["Laptop", "Phone"]),
        what="the phone's turn, named",
    )
    assert len(upstream.user_turns()) == turns + 1
    assert await _metric(gateway, "gateway_devices_joined_total", role="speaker") == 2

    # A listener's microphone never reaches the brain.
    before = upstream.audio_in_bytes
    for frame in frames(speech_pcm("The TV cannot speak.")):
        await tv.ws.send(frame)
    await laptop.say("", silence_ms=400)  # the laptop's stream goes on meanwhile
    assert len(upstream.user_turns()) == turns + 1
    assert upstream.audio_in_bytes > before  # (the laptop's silence)

    # Leaving never ends the session for the others: the phone leaves, then the laptop hangs
    # up; the TV is still in the session, and the session ends when it leaves too.
    await phone.close()
    await laptop.close()
    # Counted as leaving a session that went on (a session ending would not count them): both,
    # the phone's replaced connection and "Laptop (2)".
    await async_wait_until(
        lambda: _ge(_metric(gateway, "gateway_devices_left_total"), 4), what="both left"
    )
    assert await _metric(gateway, "gateway_sessions_active") == 1
    audio_before = tv.audio_bytes()
    assert audio_before > 0
    await tv.close()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_total", reason="client_closed"),
        what="the session ended with its last device",
    )


def _last_floor(device: Device) -> dict[str, Any]:
    floors = device.messages("floor")
    return floors[-1] if floors else {}


async def test_a_join_that_reaches_another_replica_is_relayed(
    start_gateway: StartGateway,
) -> None:
    holder, other = start_gateway(), start_gateway()
    laptop = await _open(holder, "device=Laptop", "the session started")
    tv = await _open(other, "join=live&device=TV&role=listener", "the TV joined through the relay")
    assert tv.messages("session")[0]["state"] == "joined"
    again = await _open(other, "join=live&device=TV&role=listener", "a second TV, relayed")
    assert again.messages("session")[0]["device"] == "TV (2)"
    await again.close()
    await laptop.say("Hello from the laptop.")
    await async_wait_until(lambda: _true(tv.audio_bytes() > 0), what="the TV hears the answer")
    await async_wait_until(
        lambda: _true(tv.user_transcripts() == ["Laptop"]), what="the TV sees the transcript"
    )
    await laptop.close()  # the TV is still there: the session goes on, on its holder
    await async_wait_until(
        lambda: _ge(_metric(holder, "gateway_devices_left_total"), 2), what="the laptop left"
    )
    assert await _metric(holder, "gateway_sessions_active") == 1
    await tv.close()
    await async_wait_until(
        lambda: _metric(holder, "gateway_sessions_total", reason="client_closed"),
        what="the session ended with its last device",
    )


async def test_a_device_that_stops_reading_is_dropped_and_the_session_goes_on(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    # The assistant talks on joining for far longer than the frozen device's buffers hold.
    realtime.add_scenario(Scenario("talkative", greeting=Speak("Let me tell you all.", seconds=30)))
    gateway = start_gateway("talkative", GATEWAY_CLIENT_SEND_BUFFER_BYTES="65536")
    laptop = await _open(gateway, "device=Laptop", "the session started")
    frozen = await asyncio.to_thread(
        frozen_client,
        int(gateway.spec.url.rsplit(":", 1)[1]),
        f"/api/realtime/pipecat/ws/{CID}?join=live&device=Frozen&role=listener",
    )
    try:
        await async_wait_until(
            lambda: _ge(_metric(gateway, "gateway_devices_left_total"), 1),
            timeout_s=30,
            what="the frozen device dropped",
        )
        assert await asyncio.to_thread(closed_by_peer, frozen)  # reset: it reads no close frame
        # Only that device paid: the session and its own device go on, still hearing the answer.
        assert await _metric(gateway, "gateway_sessions_active") == 1
        assert await _metric(gateway, "gateway_errors_total", kind="client_stalled") == 0
        heard = laptop.audio_bytes()
        await async_wait_until(lambda: _true(laptop.audio_bytes() > heard), what="still heard")
    finally:
        frozen.close()
        await laptop.close()


async def test_the_starting_device_joins_back_once_its_resume_window_passed(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    gateway = start_gateway(GATEWAY_RESUME_S="1")
    laptop = await _open(gateway, "device=Laptop", "the session started")
    tv = await _open(gateway, "join=live&device=TV&role=listener", "the TV joined")
    laptop.ws.transport.abort()  # a drop, not resumed within the window: the TV carries on
    await async_wait_until(
        lambda: _ge(_metric(gateway, "gateway_devices_left_total"), 1),
        what="the laptop's window passed",
    )
    assert await _metric(gateway, "gateway_sessions_active") == 1
    back = await _open(gateway, "join=live&device=Laptop&role=speaker", "the laptop back")
    assert back.messages("session")[0]["device"] == "Laptop"  # its own name, free again
    await back.say("Hello again.")
    await async_wait_until(lambda: _true(tv.user_transcripts() == ["Laptop"]), what="heard")
    assert len(realtime.connections()) == 1  # the same session and brain throughout
    await back.close()
    await tv.close()
