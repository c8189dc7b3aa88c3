"""The fake OpenAI Realtime server, driven by a raw websockets client: the GA events it sends,
in order and with the fields the Pipecat client needs, and what it records."""

from __future__ import annotations

import asyncio
import base64
import json
from array import array
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect as sync_connect

from fakes.openai_realtime import (
    TOOL_CALL_TEXT,
    Fail,
    FakeRealtimeServer,
    Scenario,
    Speak,
)
from harness.speech import (
    duration_ms,
    frames,
    read_pcm16,
    rms,
    silence,
    speech_pcm,
    speech_wav,
)

KEY = "sk-test-secret"
TOOLS = [
    {
        "type": "function",
        "name": "send_to_nested",
        "description": "Send a task to the agent team.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
]
TRANSCRIBED = {"audio": {"input": {"transcription": {"model": "whisper-1"}}}}
LEAD_MS, TAIL_MS = 800, 700
Event = dict[str, Any]


def utterance(text: str = "Hello, can you hear me?") -> bytes:
    return silence(LEAD_MS) + speech_pcm(text) + silence(TAIL_MS)


class Client:
    """A raw client of the Realtime protocol that keeps every event it receives."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[Event] = []

    async def send(self, kind: str, **fields: Any) -> str:
        event_id = f"client_{len(self.events)}_{kind}"
        await self.ws.send(json.dumps({"event_id": event_id, "type": kind, **fields}))
        return event_id

    async def recv(self, timeout_s: float = 5.0) -> Event:
        async with asyncio.timeout(timeout_s):
            event: Event = json.loads(await self.ws.recv())
        assert event.get("event_id"), f"server event without event_id: {event}"
        self.events.append(event)
        return event

    async def until(self, kind: str, timeout_s: float = 5.0) -> Event:
        while (event := await self.recv(timeout_s))["type"] != kind:
            pass
        return event

    async def drain(self) -> None:
        """Receive until the connection closes (raises ConnectionClosed)."""
        while True:
            await self.recv()

    async def stream(self, pcm: bytes) -> None:
        """Append 20 ms frames as fast as the socket takes them (the VAD runs on audio time)."""
        for frame in frames(pcm):
            await self.send("input_audio_buffer.append", audio=base64.b64encode(frame).decode())

    async def update(self, **session: Any) -> Event:
        await self.send("session.update", session={"type": "realtime", **session})
        return await self.until("session.updated")

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def audio(self, item_id: str | None = None) -> bytes:
        deltas = [e for e in self.events if e["type"] == "response.output_audio.delta"]
        return b"".join(
            base64.b64decode(e["delta"]) for e in deltas if item_id in (None, e["item_id"])
        )


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer(audio_speed=20.0) as server:
        yield server
    assert server.errors() == []


@asynccontextmanager
async def client(
    server: FakeRealtimeServer, scenario: str | Scenario = "reply"
) -> AsyncIterator[Client]:
    url = server.url(scenario) + "?model=gpt-realtime"
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        c = Client(ws)
        created = await c.recv()
        assert created["type"] == "session.created"
        yield c


def voiced_span_ms(pcm: bytes, threshold: float = 300.0) -> tuple[int, int]:
    voiced = [i * 20 for i, f in enumerate(frames(pcm)) if rms(f) >= threshold]
    return voiced[0], voiced[-1] + 20


def test_speech_wav_is_cached_24khz_mono_pcm16(tmp_path: Path) -> None:
    cached = speech_wav("Testing, one, two.")
    modified = cached.stat().st_mtime_ns
    assert speech_wav("Testing, one, two.") == cached
    assert cached.stat().st_mtime_ns == modified  # not rendered again
    copied = speech_wav("Testing, one, two.", tmp_path / "copy.wav")
    pcm = read_pcm16(copied)
    assert pcm == read_pcm16(cached)
    assert 500 < duration_ms(pcm) < 3000
    assert rms(pcm) > 1000
    assert rms(silence(100)) == 0.0
    assert [len(f) for f in frames(pcm[:1000])] == [960, 960]  # the last one padded


async def test_session_update_is_merged_echoed_and_recorded(fake: FakeRealtimeServer) -> None:
    async with client(fake) as c:
        created = c.events[0]["session"]
        assert created["type"] == "realtime"
        assert created["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        updated = await c.update(
            instructions="Be brief.",
            tools=TOOLS,
            audio={
                "input": {
                    "transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                },
                "output": {"voice": "verse"},
            },
        )
        session = updated["session"]
        assert session["instructions"] == "Be brief."
        assert session["audio"]["output"] == {
            "format": {"type": "audio/pcm", "rate": 24000},  # kept from the defaults
            "voice": "verse",
            "speed": 1.0,
        }
        assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 400
        assert session["audio"]["input"]["turn_detection"]["prefix_padding_ms"] == 300
        assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
        assert [t["name"] for t in session["tools"]] == ["send_to_nested"]

    conn = fake.connection()
    assert conn.session() == session
    assert conn.session_updates()[0]["instructions"] == "Be brief."
    assert conn.model == "gpt-realtime"
    assert conn.query == {"model": "gpt-realtime"}
    assert conn.api_key == KEY
    assert conn.headers["Authorization"] == "Bearer <redacted>"
    assert KEY not in repr(conn)
    assert KEY not in json.dumps(conn.headers)
    await fake.async_wait_for(lambda: conn.closed, what="closed")
    assert conn.close_code == 1000


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"type": "realtime", "voice": "verse"}, "unknown_parameter", "session.voice"),
        (
            {"type": "realtime", "audio": {"input": {"vad": True}}},
            "unknown_parameter",
            "session.audio.input.vad",
        ),
        ({"instructions": "x"}, "missing_required_parameter", "session.type"),
    ],
)
async def test_session_update_the_real_api_would_refuse_gets_an_error_and_changes_nothing(
    fake: FakeRealtimeServer, session: Event, code: str, param: str
) -> None:
    async with client(fake) as c:
        event_id = await c.send("session.update", session=session)
        error = await c.recv()
    assert error["type"] == "error"
    assert error["error"]["code"] == code
    assert error["error"]["param"] == param
    assert error["error"]["event_id"] == event_id
    assert fake.connection().session() == c.events[0]["session"]


async def test_a_spoken_turn_gets_vad_events_a_transcript_and_a_spoken_reply(
    fake: FakeRealtimeServer,
) -> None:
    pcm = utterance()
    onset_ms, end_ms = voiced_span_ms(pcm)
    async with client(fake) as c:
        await c.update(**TRANSCRIBED)
        await c.stream(pcm)
        done = await c.until("response.done")

    types = c.types()
    user_part = types[types.index("input_audio_buffer.speech_started") :]
    assert user_part[:8] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
    ]
    started, stopped, committed = (c.events[types.index(t)] for t in user_part[:3])
    user_item = c.events[types.index("conversation.item.added")]["item"]
    transcript = c.events[types.index(user_part[6])]
    item_id = started["item_id"]
    assert stopped["item_id"] == committed["item_id"] == user_item["id"] == item_id
    assert (user_item["type"], user_item["role"]) == ("message", "user")
    assert abs(started["audio_start_ms"] - (onset_ms - 300)) <= 40  # prefix padding 300 ms
    assert abs(stopped["audio_end_ms"] - end_ms) <= 40
    assert (transcript["item_id"], transcript["content_index"]) == (item_id, 0)
    assert transcript["transcript"] == "Hello, can you hear me?"

    # The assistant's answer: an item, audio with a transcript, then done.
    assert types[-1] == "response.done"
    answer = types[types.index("response.created") :]
    assert answer[1:4] == [
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert answer[-6:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "conversation.item.done",
        "response.output_item.done",
        "response.done",
    ]
    added = c.events[types.index("response.created") + 2]["item"]
    assert (added["type"], added["role"]) == ("message", "assistant")
    deltas = [e for e in c.events if e["type"] == "response.output_audio.delta"]
    response_id = done["response"]["id"]
    assert {
        (d["response_id"], d["item_id"], d["output_index"], d["content_index"]) for d in deltas
    } == {(response_id, added["id"], 0, 0)}
    said = "You said: Hello, can you hear me?"
    words = [e["delta"] for e in c.events if e["type"] == "response.output_audio_transcript.delta"]
    assert "".join(words) == said
    assert c.events[types.index("response.output_audio_transcript.done")]["transcript"] == said
    audio = c.audio()
    assert len(audio) == Speak(said).duration_ms(said, 40) * 48  # 60 ms a character
    assert rms(audio) > 1000
    assert done["response"]["status"] == "completed"
    assert done["response"]["output"][0]["content"][0]["transcript"] == said

    conn = fake.connection()
    appended = len(list(frames(pcm)))
    assert conn.client_events("input_audio_buffer.append") == [
        {"type": "input_audio_buffer.append", "count": appended, "bytes": appended * 960}
    ]
    [turn] = conn.user_turns()
    assert (turn.item_id, turn.transcript) == (item_id, "Hello, can you hear me?")
    assert turn.stopped_at is not None
    assert turn.stopped_at >= turn.started_at
    [response] = conn.responses()
    assert (response.trigger, response.status, response.text) == ("turn", "completed", said)
    sent = conn.audio_deltas()
    assert [d.seq for d in sent] == list(range(len(deltas)))
    assert [d.offset for d in sent] == [i * 1920 for i in range(len(deltas))]
    assert all(d.item_id == added["id"] for d in sent)
    assert sorted(d.sent_at for d in sent) == [d.sent_at for d in sent]


async def test_no_user_transcript_unless_the_session_asks_for_transcription(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake) as c:
        await c.stream(utterance())
        await c.until("response.done")
    assert "input_audio_buffer.speech_stopped" in c.types()
    assert not [t for t in c.types() if "transcription" in t]
    assert fake.connection().user_turns()[0].transcript is None


async def test_silence_and_quiet_noise_never_start_a_turn(fake: FakeRealtimeServer) -> None:
    quiet = array("h", [(i * 37 % 200) - 100 for i in range(24_000)]).tobytes()
    assert 0 < rms(quiet) < 150
    async with client(fake) as c:
        await c.stream(silence(1000) + quiet)
        await c.send("input_audio_buffer.clear")
        assert (await c.recv())["type"] == "input_audio_buffer.cleared"
    assert fake.connection().user_turns() == []


async def test_tool_call_is_announced_before_its_arguments_and_its_output_is_spoken(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake, "tool_call") as c:
        await c.update(tools=TOOLS, **TRANSCRIBED)
        await c.stream(utterance())
        done = await c.until("response.done")
        types = c.types()
        added = c.events[types.index("response.output_item.added") + 1]
        args = c.events[types.index("response.function_call_arguments.done")]
        assert added["type"] == "conversation.item.added"
        assert types.index(
            "conversation.item.added", types.index("response.created")
        ) < types.index("response.function_call_arguments.done")
        call = added["item"]
        assert (call["type"], call["name"]) == ("function_call", "send_to_nested")
        assert (args["call_id"], args["item_id"]) == (call["call_id"], call["id"])
        assert (args["response_id"], args["output_index"]) == (done["response"]["id"], 0)
        assert args["name"] == "send_to_nested"
        assert json.loads(args["arguments"]) == {"text": TOOL_CALL_TEXT}
        assert done["response"]["output"][0]["call_id"] == call["call_id"]
        assert "response.output_audio.delta" not in types

        # Pipecat sends the result as json.dumps(result): a JSON-quoted string.
        output = json.dumps("The team wrote: waves fold into foam.")
        item = {"type": "function_call_output", "call_id": call["call_id"], "output": output}
        await c.send("conversation.item.create", item=item)
        assert (await c.recv())["type"] == "conversation.item.added"
        await c.send("response.create")
        spoken = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
    assert spoken["transcript"] == "The team has answered. The team wrote: waves fold into foam."
    conn = fake.connection()
    assert conn.function_outputs()[0]["output"] == output
    assert [(r.trigger, r.action, r.status) for r in conn.responses()] == [
        ("turn", "call_tool", "completed"),
        ("tool_output", "speak", "completed"),
    ]
    assert conn.notes() == []


async def test_a_scripted_call_to_an_undeclared_tool_is_spoken_and_noted(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake, "tool_call") as c:
        await c.stream(utterance())
        await c.until("response.done")
    assert "response.function_call_arguments.done" not in c.types()
    assert "response.output_audio.delta" in c.types()
    assert fake.connection().notes() == ["scripted call to undeclared tool 'send_to_nested': spoke"]


async def test_client_response_create_speaks_about_the_last_injected_message(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake) as c:
        await c.update()
        await c.send("response.create")
        greeting = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
        no_response = await c.send("response.cancel")
        assert (await c.recv())["error"] == {
            "type": "invalid_request_error",
            "code": "response_cancel_not_active",
            "message": "Cancellation failed: no active response found",
            "param": None,
            "event_id": no_response,
        }

        for text in ("[team] step 1 of 2 done", "[team] run finished: 3 files changed"):
            message = {
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": text}],
            }
            await c.send("conversation.item.create", item=message)
            assert (await c.recv())["type"] == "conversation.item.added"
            assert (await c.recv())["type"] == "conversation.item.done"
        await c.send("response.create")
        await c.until("response.created")
        second = await c.send("response.create")
        refused = await c.until("error")
        summary = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
    assert greeting["transcript"] == "Hello! How can I help you today?"
    assert refused["error"]["code"] == "conversation_already_has_active_response"
    assert refused["error"]["event_id"] == second
    assert summary["transcript"] == "Here is an update. [team] run finished: 3 files changed"
    assert [r.trigger for r in fake.connection().responses()] == ["greeting", "request"]


async def test_barge_in_stops_the_audio_and_cancels_the_response() -> None:
    async with FakeRealtimeServer(audio_speed=4.0) as fake, client(fake, "barge_in") as c:
        await c.update(**TRANSCRIBED)
        await c.stream(utterance("Tell me a long story."))
        first = await c.until("response.output_audio.delta")
        await c.until("response.output_audio.delta")
        # The whole interruption in one append: the server detects its start and its end at
        # once, and the cancelled response must still end before the next one starts.
        interruption = speech_pcm("Stop, please.") + silence(700)
        await c.send("input_audio_buffer.append", audio=base64.b64encode(interruption).decode())
        started = await c.until("input_audio_buffer.speech_started")
        cancelled = await c.until("response.done")
        reply = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
        interrupted = c.types()[c.events.index(started) : c.events.index(cancelled)]
        assert "response.output_audio.delta" not in interrupted
        assert "response.created" not in interrupted
        assert cancelled["response"]["status"] == "cancelled"
        assert cancelled["response"]["status_details"] == {
            "type": "cancelled",
            "reason": "turn_detected",
        }
        assert cancelled["response"]["output"][0]["status"] == "incomplete"
        heard_ms = len(c.audio(first["item_id"])) // 48
        assert 0 < heard_ms < 5000

        truncate = {"item_id": first["item_id"], "content_index": 0}
        await c.send("conversation.item.truncate", **truncate, audio_end_ms=heard_ms)
        truncated = await c.until("conversation.item.truncated")
        assert truncated == {**truncated, **truncate, "audio_end_ms": heard_ms}
        too_far = await c.send(
            "conversation.item.truncate", **truncate, audio_end_ms=heard_ms + 1000
        )
        assert (await c.until("error"))["error"]["event_id"] == too_far
    assert reply["transcript"] == "All right, I will stop. You said: Stop, please."
    conn = fake.connection()
    assert [t["audio_end_ms"] for t in conn.truncates()] == [heard_ms, heard_ms + 1000]
    assert [r.status for r in conn.responses()] == ["cancelled", "completed"]
    assert conn.responses()[0].audio_bytes == heard_ms * 48
    assert fake.errors() == []


async def test_error_scenario_sends_an_error_event_after_session_update(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake, "error") as c:
        event_id = await c.send("session.update", session={"type": "realtime"})
        assert (await c.recv())["type"] == "session.updated"
        error = await c.recv()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == "invalid_value"
    assert error["error"]["message"]
    assert error["error"]["event_id"] == event_id


@pytest.mark.parametrize("close_code", [1011, None])
async def test_close_mid_response_after_a_few_audio_deltas(
    fake: FakeRealtimeServer, close_code: int | None
) -> None:
    scenario = Scenario(
        f"close_{close_code}",
        turns=(Speak("A long answer.", 3.0),),
        close_after_deltas=3,
        close_code=close_code,
    )
    async with client(fake, scenario) as c:
        await c.stream(utterance())
        with pytest.raises(ConnectionClosed) as closed:
            await c.drain()
    assert c.types().count("response.output_audio.delta") == 3
    assert "response.done" not in c.types()
    conn = fake.connection()
    await fake.async_wait_for(lambda: conn.closed, what="the server side closed")
    if close_code is None:  # the TCP connection dropped, no close frame
        assert closed.value.rcvd is None
    else:
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == close_code
        assert conn.close_code == close_code
    assert [r.status for r in conn.responses()] == ["aborted"]


@pytest.mark.parametrize(
    ("scenario", "headers", "status", "code"),
    [
        ("unauthorized", {"Authorization": f"Bearer {KEY}"}, 401, "invalid_api_key"),
        ("reply", {}, 401, None),
        ("reply", {"Authorization": "Bearer wrong-key"}, 401, "invalid_api_key"),
        ("no_such_scenario", {"Authorization": f"Bearer {KEY}"}, 404, None),
    ],
)
async def test_refused_upgrades_get_an_http_error_with_a_json_body(
    scenario: str, headers: dict[str, str], status: int, code: str | None
) -> None:
    async with FakeRealtimeServer(api_key=KEY) as fake:
        url = f"ws://127.0.0.1:{fake.port}/{scenario}/v1/realtime?model=gpt-realtime"
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
    response = refused.value.response
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.body)["error"]["code"] == code
    [rejection] = fake.rejections()
    assert rejection.status == status
    assert KEY not in json.dumps(rejection.headers)
    assert fake.connections() == []


async def test_stall_sends_session_created_then_nothing(fake: FakeRealtimeServer) -> None:
    async with client(fake, "stall") as c:
        await c.send("session.update", session={"type": "realtime"})
        await c.stream(utterance())
        await c.send("response.create")
        conn = fake.connection()
        await fake.async_wait_for(lambda: conn.client_event_types()[-1:] == ["response.create"])
        with pytest.raises(TimeoutError):
            await c.recv(timeout_s=0.3)
    assert conn.server_event_types() == ["session.created"]


async def test_stall_mid_conversation_answers_then_goes_silent_after_a_commit(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake, "stall_mid_conversation") as c:
        await c.update(audio={"input": {"transcription": {"model": "whisper-1"}}})
        await c.stream(utterance())
        await c.until("response.done")  # the first turn is answered
        await c.stream(utterance("Are you still there?"))
        await c.until("input_audio_buffer.committed")
        await c.until("conversation.item.input_audio_transcription.completed")
        with pytest.raises(TimeoutError):  # ...and then nothing, whatever the client sends
            await c.recv(timeout_s=0.3)
        await c.send("response.create")
        with pytest.raises(TimeoutError):
            await c.recv(timeout_s=0.3)
    conn = fake.connection()
    assert len(conn.user_turns()) == 2
    assert [r.trigger for r in conn.responses()] == ["turn"]


async def test_malformed_json_gets_an_error_and_unknown_types_are_ignored(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake) as c:
        await c.ws.send("{not json")
        error = await c.recv()
        await c.send("no.such.event", payload=1)
        await c.send("input_audio_buffer.clear")
        next_event = await c.recv()
    assert (error["type"], error["error"]["code"]) == ("error", "invalid_json")
    assert next_event["type"] == "input_audio_buffer.cleared"
    types = fake.connection().client_event_types()
    assert types == ["<invalid json>", "no.such.event", "input_audio_buffer.clear"]


async def test_without_turn_detection_the_client_commits_and_asks_for_the_response(
    fake: FakeRealtimeServer,
) -> None:
    async with client(fake) as c:
        audio = TRANSCRIBED["audio"]["input"]
        await c.update(audio={"input": {**audio, "turn_detection": None}})
        await c.stream(silence(40))
        await c.send("input_audio_buffer.commit")
        too_short = await c.recv()
        await c.stream(utterance())
        await c.send("input_audio_buffer.commit")
        transcript = await c.until("conversation.item.input_audio_transcription.completed")
        await c.send("input_audio_buffer.clear")
        await c.until("input_audio_buffer.cleared")
        await c.send("response.create")
        reply = await c.until("response.output_audio_transcript.done")
        await c.until("response.done")
    assert too_short["error"]["code"] == "input_audio_buffer_commit_empty"
    assert "input_audio_buffer.speech_started" not in c.types()
    assert "response.created" not in c.types()[: c.types().index("input_audio_buffer.cleared")]
    assert transcript["transcript"] == "Hello, can you hear me?"
    assert reply["transcript"] == "You said: Hello, can you hear me?"
    assert [r.trigger for r in fake.connection().responses()] == ["turn"]


async def test_custom_scenario_failed_response_and_late_transcript(
    fake: FakeRealtimeServer,
) -> None:
    scenario = Scenario(
        "late_fail", user_transcripts=("Do it.",), turns=(Fail(),), transcription_delay_s=0.3
    )
    async with client(fake, scenario) as c:
        await c.update(**TRANSCRIBED)
        await c.stream(utterance())
        done = await c.until("response.done")
        transcript = await c.until("conversation.item.input_audio_transcription.completed")
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == "server_error"
    assert transcript["transcript"] == "Do it."
    assert c.types().index("response.created") < c.types().index(transcript["type"])


async def test_audio_is_paced_at_the_configured_speed() -> None:
    scenario = Scenario("one_second", turns=(Speak("Hi.", seconds=1.0),), response_delay_s=0)
    async with (
        FakeRealtimeServer(audio_speed=4.0, chunk_ms=50) as fake,
        client(fake, scenario) as c,
    ):
        await c.stream(utterance())
        await c.until("response.done")
    sent = fake.audio_deltas()
    assert [d.nbytes for d in sent] == [2400] * 20
    span = sent[-1].sent_at - sent[0].sent_at
    assert 0.95 * 19 * 0.05 / 4 <= span < 19 * 0.05  # 4x real time, and not real time


async def test_shutdown_closes_open_connections_mid_response_and_leaves_no_tasks() -> None:
    async with FakeRealtimeServer(audio_speed=1.0) as fake:
        url = fake.url("barge_in") + "?model=m"
        async with connect(url, additional_headers={"Authorization": "Bearer k"}) as ws:
            c = Client(ws)
            await c.recv()
            await c.stream(utterance())
            await c.until("response.output_audio.delta")
            await fake.aclose()
            with pytest.raises(ConnectionClosedOK) as closed:
                await c.drain()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert fake.connection().closed
    assert [r.status for r in fake.connection().responses()] == ["aborted"]
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_threaded_server_serves_sync_clients_and_stops_cleanly() -> None:
    with FakeRealtimeServer() as fake:
        url = fake.url() + "?model=gpt-realtime"
        with sync_connect(url, additional_headers={"Authorization": "Bearer k"}) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
            ws.send(json.dumps({"type": "session.update", "session": {"type": "realtime"}}))
            conn = fake.wait_for_connection()
            fake.wait_for(lambda: conn.client_event_types() == ["session.update"])
            assert json.loads(ws.recv(timeout=5))["type"] == "session.updated"
            fake.stop()
            with pytest.raises(ConnectionClosedOK):
                ws.recv(timeout=5)
    assert conn.closed
    assert conn.close_code == 1001
    assert fake.errors() == []


async def test_sync_wait_for_refuses_to_block_the_servers_own_loop(
    fake: FakeRealtimeServer,
) -> None:
    with pytest.raises(RuntimeError, match="async_wait_for"):
        fake.wait_for(lambda: True)
