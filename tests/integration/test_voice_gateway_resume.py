"""Resume: a dropped connection (no close frame) leaves the session waiting; the client comes
back with `?resume=<session_id>` and its resume key, and carries on the same session: the same
pipeline and upstream, no second greeting or `started`, what it missed sent again, and what it
said while away delivered to the brain. Refusals leave the session untouched.

Real gateway processes (and Redis); the fake Realtime server plays the model.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from contracts.session import CloseCode
from fakes.openai_realtime import FakeRealtimeServer
from harness.events import streamed_events
from harness.metrics import metric
from harness.resuming_client import ResumingClient
from harness.services import StartGateway, ws_url
from harness.speech import frames, silence, speech_pcm
from harness.voice_clients import VoiceClient
from harness.waiting import async_wait_until
from stack import ManagedProcess


def _client(gateway: ManagedProcess, cid: str) -> ResumingClient:
    def url(resume: str | None) -> str:
        query = f"?resume={resume}" if resume else ""
        return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}{query}")

    return ResumingClient(url)


async def _metric(gateway: ManagedProcess, name: str, **labels: str) -> float:
    return await metric(gateway.spec.url, name, **labels)


async def _say(client: ResumingClient, text: str, pace_s: float = 0.02) -> None:
    """Speech then a second of silence, 20 ms frames at (about) real time."""
    for frame in frames(speech_pcm(text) + silence(1000)):
        await client.send(frame)
        await asyncio.sleep(pace_s)


async def test_a_dropped_connection_resumes_the_same_session(
    start_gateway: StartGateway, realtime: FakeRealtimeServer, redis_url: str
) -> None:
    gateway = start_gateway("barge_in")  # its first answer is long: the drop lands mid-reply
    client = _client(gateway, "conv-resume")
    await client.start()
    await _say(client, "Tell me a long story.")
    await client.wait_for(client.audio_bytes, "the reply's first audio")
    heard_before = client.audio_bytes()
    client.drop()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_detached_total"), what="the session detached"
    )
    # While away the user goes on speaking: kept, sent on the resume.
    for frame in frames(speech_pcm("Stop, please.")):
        await client.send(frame)

    answer = await client.resume()
    assert answer["type"] == "session"
    assert answer["state"] == "resumed"
    assert answer["session_id"] == client.session_id
    assert answer["skipped"] == 0
    assert answer["replayed"] > 0  # the reply went on while the client was away
    await _say(client, "")  # the end of the utterance, now on the new connection

    # Everything the client sent reached the brain, the gap included: bytes for bytes.
    [upstream] = realtime.connections()  # one upstream: the same pipeline and brain context
    sent_audio = sum(len(f) for f in client.sent if isinstance(f, bytes))
    await async_wait_until(
        lambda: _true(upstream.audio_in_bytes == sent_audio),
        what=f"all {sent_audio} bytes of the client's audio upstream",
    )
    # The reply that was playing during the gap came in full, then the next answer.
    await client.wait_for(
        lambda: any(m["role"] == "assistant" for m in client.messages("transcription")[1:]),
        "the answer to the second turn",
    )
    assert client.audio_bytes() > heard_before
    assert [m["state"] for m in client.messages("session")] == ["started"]
    await client.close()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_total", reason="client_closed"),
        what="the session ended",
    )
    with redis.Redis.from_url(redis_url) as r:
        types = [e.type for e in streamed_events(r, "conv-resume") if e.source == "controller"]
    assert types == ["session_started", "session_resumed", "session_stopped"]
    assert await _metric(gateway, "gateway_sessions_resumed_total") == 1


async def _true(value: bool) -> bool:
    return value


async def _refusal(gateway: ManagedProcess, cid: str, session_id: str, first: str) -> str:
    url = ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}?resume={session_id}")
    async with connect(url) as ws:
        await ws.send(first)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 15)
    assert ws.close_code == CloseCode.RESUME_REFUSED, (ws.close_code, ws.close_reason)
    return ws.close_reason or ""


async def test_bad_resumes_are_refused_and_leave_the_session_as_it_was(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway()
    client = _client(gateway, "conv-bad-resume")
    await client.start()
    await _say(client, "Hello there.")
    await client.wait_for(client.audio_bytes, "an answer")
    client.drop()
    sid, key = client.session_id, client.resume_key
    assert sid is not None
    assert key is not None
    request = {"type": "resume", "resume_key": key, "received": len(client.received)}
    cases = {
        "wrong resume key": {**request, "resume_key": "x" * 32},
        "another conversation": request,
        "were sent": {**request, "received": len(client.received) + 1_000},
        "bad resume request": {**request, "received": -1},
        "no session": request,
    }
    assert "wrong resume key" in await _refusal(
        gateway, "conv-bad-resume", sid, json.dumps(cases["wrong resume key"])
    )
    assert "another conversation" in await _refusal(
        gateway, "conv-other", sid, json.dumps(cases["another conversation"])
    )
    assert "were sent" in await _refusal(
        gateway, "conv-bad-resume", sid, json.dumps(cases["were sent"])
    )
    assert "bad resume request" in await _refusal(
        gateway, "conv-bad-resume", sid, json.dumps(cases["bad resume request"])
    )
    assert "bad resume request" in await _refusal(gateway, "conv-bad-resume", sid, "not json")
    assert "no session" in await _refusal(
        gateway, "conv-bad-resume", "0" * 32, json.dumps(cases["no session"])
    )
    assert await _metric(gateway, "gateway_sessions_refused_total", reason="resume") == 6
    # The session waited through all of that, and resumes with the right request.
    answer = await client.resume()
    assert answer["state"] == "resumed"
    await _say(client, "Are you still there?")
    await client.wait_for(lambda: len(client.messages("transcription")) >= 4, "the next answer")
    await client.close()


async def test_a_session_not_resumed_in_time_ends_with_a_reason(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway(GATEWAY_RESUME_S="1")
    client = _client(gateway, "conv-expire")
    await client.start()
    client.drop()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_total", reason="resume_expired"),
        what="the session ended resume_expired",
        timeout_s=15,
    )
    with pytest.raises(ConnectionClosed):
        await client.resume()
    assert client.closes[-1][0] == CloseCode.RESUME_REFUSED
    assert "no session" in client.closes[-1][1]


async def test_a_normal_close_ends_the_session_at_once(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    client = _client(gateway, "conv-hangup")
    await client.start()
    await client.close()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_total", reason="client_closed"),
        what="the session ended client_closed",
    )
    assert await _metric(gateway, "gateway_sessions_detached_total") == 0


async def test_a_resume_that_reaches_another_replica_is_relayed_to_the_session(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    holder, other = start_gateway(), start_gateway()
    cid = "conv-relay"

    def url(resume: str | None) -> str:  # the first connection to one, the resume to the other
        if resume is None:
            return ws_url(holder, f"/api/realtime/pipecat/ws/{cid}")
        return ws_url(other, f"/api/realtime/pipecat/ws/{cid}?resume={resume}")

    client = ResumingClient(url)
    await client.start()
    await _say(client, "Hello there.")
    await client.wait_for(client.audio_bytes, "an answer")
    client.drop()
    await async_wait_until(
        lambda: _metric(holder, "gateway_sessions_detached_total"), what="the session detached"
    )
    assert client.session_id is not None
    assert "wrong resume key" in await _refusal(
        other,
        cid,
        client.session_id,
        json.dumps({"type": "resume", "resume_key": "x" * 32, "received": 0}),
    )
    for frame in frames(speech_pcm("Are you still there?")):
        await client.send(frame)  # captured while away
    answer = await client.resume()
    assert answer["state"] == "resumed"
    assert answer["session_id"] == client.session_id
    await _say(client, "")
    [upstream] = realtime.connections()  # the holder's pipeline, its one upstream
    sent_audio = sum(len(f) for f in client.sent if isinstance(f, bytes))
    await async_wait_until(
        lambda: _true(upstream.audio_in_bytes == sent_audio),
        what=f"all {sent_audio} bytes of the client's audio upstream, through the relay",
    )
    await client.wait_for(lambda: len(client.messages("transcription")) >= 4, "the next answer")
    assert await _metric(holder, "gateway_sessions_resumed_total") == 1
    await client.close()  # a normal close, relayed: the session ends on its holder
    await async_wait_until(
        lambda: _metric(holder, "gateway_sessions_total", reason="client_closed"),
        what="the session ended on its holder",
    )


async def test_a_relay_killed_mid_utterance_loses_nothing(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    holder, relay = start_gateway(), start_gateway()
    cid = "conv-relay-kill"
    target = [holder]  # where the next connection goes

    def url(resume: str | None) -> str:
        query = f"?resume={resume}" if resume else ""
        return ws_url(target[0], f"/api/realtime/pipecat/ws/{cid}{query}")

    async def detached(least: int) -> bool:
        return await _metric(holder, "gateway_sessions_detached_total") >= least

    client = ResumingClient(url)
    await client.start()
    await _say(client, "Hello there.")
    await client.wait_for(client.audio_bytes, "an answer")
    client.drop()
    await async_wait_until(lambda: detached(1), what="the session detached")
    target[0] = relay
    assert (await client.resume())["state"] == "resumed"  # relayed to the holder

    # Mid-utterance the relaying process crashes: no close frame, nothing said on Redis.
    speech = list(frames(speech_pcm("Are you still there?")))
    half = len(speech) // 2
    for frame in speech[:half]:
        await client.send(frame)
        await asyncio.sleep(0.02)
    relay.kill()
    await client.wait_for(lambda: not client.connected, "the relay's connection gone")
    for frame in speech[half:]:
        await client.send(frame)  # captured while away
    # The holder hears no keepalive from the relay and detaches the session, as after any drop.
    await async_wait_until(lambda: detached(2), timeout_s=30, what="the holder saw the relay go")
    assert await _metric(holder, "gateway_sessions_active") == 1

    target[0] = holder
    assert (await client.resume())["state"] == "resumed"
    await _say(client, "")
    [upstream] = realtime.connections()  # still the one pipeline and upstream
    sent_audio = sum(len(f) for f in client.sent if isinstance(f, bytes))
    await async_wait_until(
        lambda: _true(upstream.audio_in_bytes == sent_audio),
        what=f"all {sent_audio} bytes of the client's audio upstream, across the crash",
    )
    await client.wait_for(lambda: len(client.messages("transcription")) >= 4, "the next answer")
    assert len(client.messages("session")) == 1  # one `started`: no second greeting
    await client.close()


async def test_with_a_token_a_resume_needs_a_fresh_ticket(start_gateway: StartGateway) -> None:
    token = "resume-token-0123456789"
    gateway = start_gateway(GATEWAY_TOKEN=token)
    cid = "conv-resume-ticket"
    used: list[str] = []

    def ticket() -> str:
        with httpx.Client(base_url=gateway.spec.url) as http:
            answer = http.post(
                "/api/realtime/pipecat/tickets",
                json={"conversation_id": cid, "purpose": "voice"},
                headers={"Authorization": f"Bearer {token}"},
            )
        used.append(answer.json()["ticket"])
        return used[-1]

    def url(resume: str | None) -> str:
        query = f"ticket={ticket()}" + (f"&resume={resume}" if resume else "")
        return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}?{query}")

    client = ResumingClient(url)
    await client.start()
    client.drop()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_detached_total"), what="the session detached"
    )
    # The first connection's ticket, used again: refused before the resume is even read.
    replayed = ws_url(
        gateway, f"/api/realtime/pipecat/ws/{cid}?ticket={used[0]}&resume={client.session_id}"
    )
    async with connect(replayed) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 15)
    assert ws.close_code == CloseCode.POLICY
    assert "already used" in (ws.close_reason or "")
    answer = await client.resume()  # with a ticket of its own
    assert answer["state"] == "resumed"
    await client.close()


async def test_the_rtvi_format_resumes_too(
    start_gateway: StartGateway, realtime: FakeRealtimeServer
) -> None:
    gateway = start_gateway()
    cid = "conv-resume-rtvi"
    codec = VoiceClient("rtvi")

    def url(resume: str | None) -> str:
        query = "format=rtvi" + (f"&resume={resume}" if resume else "")
        return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}?{query}")

    client = ResumingClient(url, codec=codec)
    await client.start()

    async def say(text: str) -> None:
        for frame in frames(speech_pcm(text) + silence(1000)):
            await client.send(codec.audio(frame))
            await asyncio.sleep(0.02)

    await say("Hello there.")
    await client.wait_for(client.audio_bytes, "an answer")
    client.drop()
    await async_wait_until(
        lambda: _metric(gateway, "gateway_sessions_detached_total"), what="the session detached"
    )
    for frame in frames(speech_pcm("Still there?")):
        await client.send(codec.audio(frame))  # captured while away
    answer = await client.resume()
    assert answer["state"] == "resumed"
    await say("")
    [upstream] = realtime.connections()
    sent_audio = sum(len(codec.decode(f).audio or b"") for f in client.sent if isinstance(f, bytes))
    await async_wait_until(
        lambda: _true(upstream.audio_in_bytes == sent_audio),
        what=f"all {sent_audio} bytes of the client's audio upstream",
    )
    await client.wait_for(lambda: len(client.messages("transcription")) >= 4, "the next answer")
    await client.close()
