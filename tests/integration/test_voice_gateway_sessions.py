"""Sessions: listed and stopped from any replica, timeouts, limits, bad frames, upstream failures.

Real gateway processes (and Redis); the fake Realtime server plays the model.
"""

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.session import RETRYABLE_CLOSE_CODES, CloseCode
from harness.events import streamed_events
from harness.services import StartGateway, ws_url
from harness.speech import silence, speech_pcm, stream_at_real_time
from harness.waiting import async_wait_until
from stack import ManagedProcess, free_port

MESSAGE_TIMEOUT_S = 15.0  # a bound on a hang, not a timing assertion


def _ws_url(gateway: ManagedProcess, cid: str = "conv", query: str = "") -> str:
    return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}{query}")


async def _messages_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every JSON message until the server closes the socket."""
    messages = []
    try:
        async with asyncio.timeout(MESSAGE_TIMEOUT_S):
            async for frame in ws:
                if isinstance(frame, str):
                    messages.append(json.loads(frame))
    except ConnectionClosed:
        pass
    return messages


async def _next_message(ws: ClientConnection, type_: str) -> dict[str, Any]:
    async with asyncio.timeout(MESSAGE_TIMEOUT_S):
        async for frame in ws:
            if isinstance(frame, str) and (message := json.loads(frame))["type"] == type_:
                return message
    raise AssertionError(f"closed before a {type_!r} message")


async def test_a_second_replica_lists_and_stops_a_session(start_gateway: StartGateway) -> None:
    holder, other = start_gateway(), start_gateway()
    async with connect(_ws_url(holder, "conv-stop")) as ws:
        started = await _next_message(ws, "session")
        async with httpx.AsyncClient(base_url=other.spec.url) as http:
            [listed] = (await http.get("/api/realtime/pipecat/sessions")).json()
            assert (listed["session_id"], listed["conversation_id"]) == (
                started["session_id"], "conv-stop",
            )  # fmt: skip
            stop = await http.post(f"/api/realtime/pipecat/sessions/{started['session_id']}/stop")
            assert stop.status_code == 202
            messages = await _messages_until_closed(ws)
            assert ws.close_code == 1000
            assert messages[-1]["type"] == "session"
            assert (messages[-1]["state"], messages[-1]["reason"]) == ("stopped", "stopped")
            listed_after = await async_wait_until(
                lambda: _empty_list(http), what="session gone from the registry"
            )
            assert listed_after
            missing = await http.post(f"/api/realtime/pipecat/sessions/{'0' * 32}/stop")
            assert missing.status_code == 404


async def test_idle_sessions_end(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_IDLE_TIMEOUT_S="1.5")
    async with connect(_ws_url(gateway)) as ws:
        messages = await _messages_until_closed(ws)
    assert messages[-1]["reason"] == "idle"


async def test_limits_and_bad_frames(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_MAX_SESSIONS_PER_ADDRESS="1", GATEWAY_MAX_FRAME_BYTES="4096")
    async with connect(_ws_url(gateway, "one")) as first:
        await _next_message(first, "session")
        async with connect(_ws_url(gateway, "two")) as second:
            await _messages_until_closed(second)
            assert second.close_code == 1008
            assert second.close_reason == "too many open sessions from your address"
        for bad, code in [(b"\x00\x01\x02", "odd_length_audio"), ("{oops", "invalid_json"),
                          ('{"type": "dance"}', "unknown_type")]:  # fmt: skip
            await first.send(bad)
            error = await _next_message(first, "error")
            assert error["code"] == code
            await first.send(json.dumps({"type": "ping", "id": code}))
            assert (await _next_message(first, "pong"))["id"] == code
        await first.send(b"\x00" * 8192)  # over the frame size limit
        await _messages_until_closed(first)
        assert first.close_code == 1009
    async with httpx.AsyncClient(base_url=gateway.spec.url) as http:
        await async_wait_until(lambda: _empty_list(http), what="the closed session cleaned up")
    async with connect(_ws_url(gateway, "three")) as again:  # the service is still up
        assert (await _next_message(again, "session"))["state"] == "started"


async def test_a_brain_that_cannot_run_refuses_with_a_code_not_to_retry(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    """The local brain without its Piper voice: the gateway starts, and refuses each session
    with BRAIN_UNAVAILABLE (4001), which the browser does not retry, and the reason."""
    gateway = start_gateway(VOICE_BRAIN="local", GATEWAY_PIPER_VOICE_DIR=str(tmp_path))
    async with connect(_ws_url(gateway)) as ws:
        assert await _messages_until_closed(ws) == []
    assert ws.close_code == CloseCode.BRAIN_UNAVAILABLE == 4001
    assert ws.close_code not in RETRYABLE_CLOSE_CODES
    assert ws.close_reason.startswith("the Piper voice is missing")


async def _ticket(gateway: ManagedProcess, cid: str = "conv") -> str:
    async with httpx.AsyncClient(base_url=gateway.spec.url) as http:
        granted = await http.post(
            "/api/realtime/pipecat/tickets",
            json={"conversation_id": cid, "purpose": "voice"},
            headers={"authorization": "Bearer s3cret"},
        )
    ticket: str = granted.json()["ticket"]
    return ticket


async def test_token_and_origin(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_TOKEN="s3cret", GATEWAY_ALLOWED_ORIGINS="https://voice.example")
    good = {"origin": "https://voice.example"}
    for query, headers, reason in [
        ("", good, "a valid ticket (?ticket=) or token (Authorization: Bearer) is required"),
        ("?ticket=wrong-but-well-formed", good, "the ticket is unknown or has expired"),
        ("?token=s3cret", good, "a token in the URL is refused"),
        (f"?ticket={await _ticket(gateway)}", {"origin": "https://evil.example"}, "not allowed"),
    ]:
        async with connect(_ws_url(gateway, query=query), additional_headers=headers) as ws:
            await _messages_until_closed(ws)
            assert ws.close_code == 1008
            assert reason in ws.close_reason
    ticket = await _ticket(gateway)
    async with connect(_ws_url(gateway, query=f"?ticket={ticket}"), additional_headers=good) as ws:
        assert (await _next_message(ws, "session"))["state"] == "started"
    # The rule every service shares (service_kit.access): no Origin is not a browser, so the
    # token alone decides; the bearer scheme is case-insensitive.
    lower_bearer = {"authorization": "bearer s3cret"}
    async with connect(_ws_url(gateway, "c2"), additional_headers=lower_bearer) as ws:
        assert (await _next_message(ws, "session"))["state"] == "started"


@pytest.mark.parametrize(
    "scenario", ["unreachable", "unauthorized", "error", "close_mid_response", "stall"]
)
async def test_upstream_failures_end_the_session_with_a_clear_error(
    start_gateway: StartGateway, redis_client: redis.Redis, scenario: str
) -> None:
    if scenario == "unreachable":  # nothing listens on the port
        gateway = start_gateway(OPENAI_REALTIME_URL=f"ws://127.0.0.1:{free_port()}/v1/realtime")
    else:  # a stalled upstream gets one second to set the session up
        gateway = start_gateway(scenario, GATEWAY_UPSTREAM_READY_TIMEOUT_S="1")
    async with connect(_ws_url(gateway, f"up-{scenario}")) as ws:
        if scenario == "close_mid_response":
            speech = silence(200) + speech_pcm("Tell me something.") + silence(900)
            with contextlib.suppress(ConnectionClosed):  # the gateway ends it mid-speech
                await stream_at_real_time(ws.send, speech)
        messages = await _messages_until_closed(ws)
    errors = [m for m in messages if m["type"] == "error"]
    assert errors
    assert errors[0]["code"] == "upstream_error"
    assert errors[0]["fatal"] is True
    assert messages[-1]["reason"] == "upstream_error"
    assert ws.close_code == 1011

    def recorded() -> list[tuple[str, str]]:
        events = streamed_events(redis_client, f"up-{scenario}")
        return [(e.type, str(e.payload.get("reason") or e.payload.get("kind"))) for e in events]

    async def stopped() -> bool:
        return ("session_stopped", "upstream_error") in recorded()

    await async_wait_until(stopped, what="session_stopped recorded")
    assert ("error", "upstream") in recorded()


async def _empty_list(http: httpx.AsyncClient) -> bool:
    return (await http.get("/api/realtime/pipecat/sessions")).json() == []


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_sigterm_ends_sessions_as_shutdown(
    start_gateway: StartGateway, redis_client: redis.Redis, workers: str
) -> None:
    gateway = start_gateway(GATEWAY_WORKERS=workers)
    async with connect(_ws_url(gateway, "conv-shutdown")) as ws:
        await _next_message(ws, "session")
        stopping = asyncio.create_task(asyncio.to_thread(gateway.stop))  # SIGTERM, then wait
        messages = await _messages_until_closed(ws)
        # One process: uvicorn re-raises SIGTERM once its graceful shutdown is done, so -15 is
        # the clean exit. Several: the supervisor waits for its workers and exits 0.
        assert await stopping == (-signal.SIGTERM if workers == "1" else 0)
    assert "gateway_stopped" in gateway.log_tail()
    assert (messages[-1]["state"], messages[-1]["reason"]) == ("stopped", "shutdown")
    assert ws.close_code == 1001
    stopped = [
        e for e in streamed_events(redis_client, "conv-shutdown") if e.type.endswith("stopped")
    ]
    assert [e.payload["reason"] for e in stopped] == ["shutdown"]


async def test_sessions_end_at_their_maximum_duration(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_MAX_DURATION_S="1.5")
    async with connect(_ws_url(gateway)) as ws:
        messages = await _messages_until_closed(ws)
    assert messages[-1]["reason"] == "max_duration"
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    ("env", "close_code", "reason"),
    [
        ({"GATEWAY_MAX_SESSIONS": "1"}, 1013, "the gateway is at its session limit"),
        ({"GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "1"}, 1008, "too many new connections"),
    ],
)
async def test_connection_limits(
    start_gateway: StartGateway, env: dict[str, str], close_code: int, reason: str
) -> None:
    gateway = start_gateway(**env)
    async with connect(_ws_url(gateway, "first")) as first:
        await _next_message(first, "session")
        async with connect(_ws_url(gateway, "second")) as second:
            assert await _messages_until_closed(second) == []
        assert second.close_code == close_code
        assert second.close_reason.startswith(reason)


async def test_frame_rate_limit(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_MAX_FRAMES_PER_SECOND="10")
    async with connect(_ws_url(gateway)) as ws:
        await _next_message(ws, "session")
        for _ in range(30):  # three seconds of audio at once
            await ws.send(bytes(960))
        error = await _next_message(ws, "error")
        assert error["code"] == "rate_limited"
        # The bucket refills: the session answers again once the flood stops (pings sent
        # while it is still empty are dropped like any other frame).
        for attempt in range(20):
            await ws.send(json.dumps({"type": "ping", "id": str(attempt)}))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await _next_message(ws, "pong")
                    break
        else:
            raise AssertionError("no pong after the flood")


async def test_what_the_listener_heard_is_exported_and_stored(
    start_gateway: StartGateway, redis_client: redis.Redis
) -> None:
    """A client's per-turn stats become the gateway's histograms and a stored event; stats
    that cannot be true get an error and are not stored."""
    gateway = start_gateway()
    heard = {"mouth_to_ear_ms": 870.0, "played_ms": 2400.0, "underruns": 2, "underrun_ms": 60.0}
    async with connect(_ws_url(gateway, "conv-heard")) as ws:
        await _next_message(ws, "session")
        await ws.send(json.dumps({"type": "client_stats", **heard, "buffer_ms": 90}))
        lie = {**heard, "underruns": 0, "buffer_ms": 90}  # silence inserted without an underrun
        await ws.send(json.dumps({"type": "client_stats", **lie}))
        error = await _next_message(ws, "error")
        assert error["code"] == "invalid_message"
        assert "underruns and underrun_ms must be zero together" in error["message"]
        await ws.send(json.dumps({"type": "stop"}))
        await _messages_until_closed(ws)

    async def stored() -> list[dict[str, object]]:
        events = streamed_events(redis_client, "conv-heard")
        stopped = any(e.type == "session_stopped" for e in events)
        return [e.payload for e in events if e.type == "client_stats"] if stopped else []

    assert await async_wait_until(stored, what="the session's events") == [
        {**heard, "buffer_ms": 90.0}
    ]
    async with httpx.AsyncClient(base_url=gateway.spec.url) as http:
        text = (await http.get("/metrics")).text
    samples = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("gateway_client_")
    }
    assert samples["gateway_client_mouth_to_ear_seconds_count"] == 1
    assert samples["gateway_client_mouth_to_ear_seconds_sum"] == pytest.approx(0.87)
    assert samples["gateway_client_underruns_total"] == 2
    assert samples["gateway_client_underrun_seconds_sum"] == pytest.approx(0.06)
    assert samples["gateway_client_jitter_buffer_seconds_count"] == 1
