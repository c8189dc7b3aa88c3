"""A spoken request, end to end: browser socket (either wire format) -> gateway (Pipecat,
Realtime brain) -> tool-worker -> team -> progress -> a spoken summary; every event stored.

All processes are real (Redis, event-store, tool-worker, gateway); the OpenAI Realtime server
and the agentic backend are the protocol-faithful fakes.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import TOOL_CALL_TEXT, FakeRealtimeServer
from harness.services import Processes, StartEventStore, StartWorker
from harness.speech import frames, silence, speech_pcm, stream_at_real_time
from harness.voice_clients import VoiceClient
from harness.waiting import async_wait_until
from stack import free_port, voice_gateway_spec

SPOKEN = "Please ask the team to write a haiku about the sea."


@dataclass
class Received:
    messages: list[dict[str, Any]] = field(default_factory=list)
    rtvi: list[dict[str, Any]] = field(default_factory=list)
    audio_bytes: int = 0
    audio_after_summary: int = 0
    summary_at: str = "~"  # the finished run's progress message (ISO time sorts as text)

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]


async def _receive(ws: ClientConnection, client: VoiceClient, got: Received) -> None:
    async for frame in ws:
        decoded = client.decode(frame)
        if decoded.audio is not None:
            got.audio_bytes += len(decoded.audio)
            if any(m.get("finished") for m in got.of("progress")):
                got.audio_after_summary += len(decoded.audio)
        elif decoded.message is not None:
            got.messages.append(decoded.message)
            if decoded.message["type"] == "progress" and decoded.message["finished"]:
                got.summary_at = decoded.message["timestamp"]
        elif decoded.rtvi is not None:
            got.rtvi.append(decoded.rtvi)


@pytest.mark.parametrize("wire_format", ["raw", "rtvi"])
async def test_spoken_request_to_the_team_and_spoken_summary(
    wire_format: Literal["raw", "rtvi"],
    redis_url: str,
    agentic: FakeAgenticBackend,
    start_event_store: StartEventStore,
    start_worker: StartWorker,
    processes: Processes,
) -> None:
    store = start_event_store()
    start_worker()
    async with FakeRealtimeServer() as realtime:
        port = free_port()
        gateway = processes.start(voice_gateway_spec(port, redis_url, extra_env={
            "OPENAI_API_KEY": "test-key",
            "OPENAI_REALTIME_URL": realtime.url("tool_call"),
        }))  # fmt: skip
        got, client = Received(), VoiceClient(wire_format)
        url = f"ws://127.0.0.1:{port}/api/realtime/pipecat/ws/conv-e2e?voice=verse&{client.query}"
        async with connect(url) as ws:
            receiver = asyncio.create_task(_receive(ws, client, got))
            for hello in client.hello():
                await ws.send(hello)
            spoken = silence(300) + speech_pcm(SPOKEN) + silence(900)

            async def send_audio(pcm: bytes) -> None:
                await ws.send(client.audio(pcm))

            await stream_at_real_time(send_audio, spoken)

            async def summary_heard() -> bool:
                if receiver.done():  # surfaces the receiver's failure instead of a timeout
                    receiver.result()
                    raise AssertionError("the gateway closed the socket before the summary")
                # All of it, as a listener would: stopping mid-sentence would leave audio the
                # gateway counted as sent still on its way.
                since = [
                    m["speaking"] for m in got.of("speaking") if m["timestamp"] > got.summary_at
                ]
                return got.audio_after_summary > 0 and True in since and not since[-1]

            await async_wait_until(summary_heard, timeout_s=45, what="spoken summary")
            await ws.send(client.stop())
            await asyncio.wait_for(receiver, 10)

        session = realtime.connection(0).session()
        assert session["audio"]["output"]["voice"] == "verse"
        assert session["audio"]["input"]["transcription"]
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert sorted(t["name"] for t in session["tools"]) == [
            "pause", "pause_claude_code", "reset", "send_to_claude_code", "send_to_nested",
        ]  # fmt: skip

    assert got.of("session")[0]["state"] == "started"
    assert got.of("session")[-1] == {
        **got.of("session")[-1],
        "state": "stopped",
        "reason": "client_closed",
    }
    assert next(m["text"] for m in got.of("transcription") if m["role"] == "user") == SPOKEN
    [call] = got.of("function_call")
    assert (call["name"], call["arguments"]) == ("send_to_nested", {"text": TOOL_CALL_TEXT})
    [result] = got.of("function_result")
    assert (result["ok"], result["result"]) == (True, "I've handed that to the team.")
    progress = got.of("progress")
    assert progress[-1]["finished"] is True
    assert progress[-1]["text"].startswith("[TEAM RESULT] The team finished.")
    assert got.audio_bytes > 0
    if wire_format == "rtvi":  # Pipecat's own RTVI messages, for its client SDKs
        rtvi = {m["type"]: m for m in got.rtvi}
        assert rtvi["bot-ready"]["id"] == "m1"  # answers the client-ready
        assert rtvi["user-transcription"]["data"]["text"] == SPOKEN
        assert "bot-started-speaking" in rtvi
    assert agentic.received("MainConversation") == [{"type": "run", "data": TOOL_CALL_TEXT}]
    latency = {m["metric"]: m["ms"] for m in got.of("latency")}
    assert latency.keys() == {
        "voice",
        "upstream_first_byte",
        "brain",
        "speech_synthesis_first_byte",
    }
    assert latency["voice"] > latency["upstream_first_byte"] > 0

    async with httpx.AsyncClient(base_url=gateway.spec.url, timeout=5) as http:
        exported = (await http.get("/metrics")).text
    samples = {
        (s.name, s.labels.get("direction")): s.value
        for family in text_string_to_metric_families(exported)
        for s in family.samples
    }
    assert samples["gateway_audio_bytes_total", "in"] == sum(len(f) for f in frames(spoken))
    assert samples["gateway_audio_bytes_total", "out"] == got.audio_bytes
    assert samples["gateway_voice_latency_seconds_count", None] == 1

    async with httpx.AsyncClient(base_url=store.spec.url, timeout=5) as http:
        events = await async_wait_until(
            lambda: _stored(http, "conv-e2e"), timeout_s=15, what="session_stopped stored"
        )
    kinds = [(e["source"], e["type"]) for e in events]
    assert kinds[0] == ("controller", "session_started")
    assert kinds[-1] == ("controller", "session_stopped")
    for expected in [("voice", "transcript"), ("voice", "function_call"),
                     ("voice", "function_result"), ("nested_agent", "taskresult"),
                     ("nested_agent", "run_finished")]:  # fmt: skip
        assert expected in kinds, expected
    # Each producer's own events keep their order. Across producers only causality holds: the
    # team starts after the gateway stamped the call, but its run may finish before the gateway
    # records the call's result (two processes, two outboxes), so that pair has no fixed order.
    assert kinds.index(("voice", "function_call")) < kinds.index(("voice", "function_result"))
    team_kinds = [t for s, t in kinds if s == "nested_agent"]
    assert team_kinds.index("taskresult") < team_kinds.index("run_finished")
    called = next(e["timestamp"] for e in events if e["type"] == "function_call")
    team = [e["timestamp"] for e in events if e["source"] == "nested_agent"]
    assert datetime.fromisoformat(called) <= min(map(datetime.fromisoformat, team))


async def _stored(http: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    response = await http.get(f"/api/realtime/conversations/{cid}/events", params={"limit": 1000})
    events: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
    done = any(e["type"] == "session_stopped" for e in events)
    return events if done else []
