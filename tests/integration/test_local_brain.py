"""The local brain, end to end and offline: Piper speech streamed at real time into the gateway
(Silero VAD, smart-turn, Whisper, the command router or an OpenAI-compatible LLM, Piper), tools
run by the tool-worker against the fake team, and the spoken replies heard back by Whisper.

All processes are real (Redis, tool-worker, gateway); the agentic backend and the chat server
are protocol-faithful fakes.
"""

import asyncio
import json
import re
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import redis
from websockets.asyncio.client import ClientConnection, connect

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_chat import (
    CallTool,
    Fail,
    FakeChatServer,
    RecordedRequest,
    Reply,
    Say,
    default_scenario,
)
from harness.events import streamed_events
from harness.local_speech import piper_pcm, transcribe, word_accuracy, words
from harness.services import StartEventStore, StartGateway, StartWorker, ws_url
from harness.speech import silence, stream_at_real_time
from harness.voice_clients import VoiceClient
from harness.waiting import async_wait_until
from stack import ManagedProcess, free_port
from voice_gateway.brains.command_router import HELP_REPLY, route
from voice_gateway.settings import Settings

GREETING = Settings.model_fields["greeting"].default


@dataclass
class Heard:
    """The gateway's messages, and its audio of each turn (cut where the test's turns end)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    turn_ends: list[int] = field(default_factory=list)
    interruptions: list[int] = field(default_factory=list)  # audio received by each

    def turn_audio(self) -> list[bytes]:
        starts = [0, *self.turn_ends]
        return [bytes(self.audio[a:b]) for a, b in zip(starts, self.turn_ends, strict=False)]

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]

    def said(self, role: str) -> list[str]:
        return [m["text"] for m in self.of("transcription") if m["role"] == role]

    def finished_answers(self, n: int) -> bool:
        """The assistant has said `n` things and is not speaking now."""
        return len(self.said("assistant")) >= n and not self.of("speaking")[-1]["speaking"]

    async def wait_for_answers(self, n: int, receiver: asyncio.Task[None], what: str) -> None:
        async def answered() -> bool:
            if receiver.done():
                receiver.result()
            return self.finished_answers(n)

        await async_wait_until(answered, timeout_s=30, what=what)
        self.turn_ends.append(len(self.audio))

    async def receive(self, ws: ClientConnection, client: VoiceClient) -> None:
        async for frame in ws:
            decoded = client.decode(frame)
            if decoded.audio is not None:
                self.audio += decoded.audio
            elif decoded.interruption:
                self.interruptions.append(len(self.audio))
            elif decoded.message is not None:
                self.messages.append(decoded.message)


def _metrics(process: ManagedProcess) -> dict[str, float]:
    """The process's Prometheus samples, by series name with labels."""
    with urllib.request.urlopen(f"{process.spec.url}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def _local_gateway(start_gateway: StartGateway, **env: str) -> ManagedProcess:
    # Deterministic speech, so Whisper hears the same replies every run.
    return start_gateway(
        VOICE_BRAIN="local", OPENAI_API_KEY="", GATEWAY_PIPER_DETERMINISTIC="true", **env
    )


async def _converse(gateway: ManagedProcess, turns: list[tuple[str, int]], heard: Heard) -> None:
    """Hear the greeting out, then say each utterance and wait until the assistant has
    finished that many answers (the greeting not counted)."""
    client = VoiceClient("raw")
    url = ws_url(gateway, "/api/realtime/pipecat/ws/conv-local")
    async with connect(url) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        await heard.wait_for_answers(1, receiver, "the greeting")
        for text, answers in turns:
            await stream_at_real_time(ws.send, silence(300) + piper_pcm(text) + silence(1200))
            await heard.wait_for_answers(1 + answers, receiver, f"an answer to {text!r}")
        await ws.send(client.stop())
        await asyncio.wait_for(receiver, 10)


async def _say_once(gateway: ManagedProcess, conversation: str, said: bytes, answers: int) -> Heard:
    """Hear the greeting out, say `said` (after 300 ms of silence) and wait for `answers`
    answers to it: the hand-off and the run's summary, say."""
    heard = Heard()
    client = VoiceClient("raw")
    async with connect(ws_url(gateway, f"/api/realtime/pipecat/ws/{conversation}")) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        await heard.wait_for_answers(1, receiver, "the greeting")
        await stream_at_real_time(ws.send, silence(300) + said)
        await heard.wait_for_answers(1 + answers, receiver, f"{answers} answers")
        await ws.send(client.stop())
        await asyncio.wait_for(receiver, 10)
    return heard


async def test_router_hands_work_to_the_team_and_says_so(
    start_gateway: StartGateway, start_worker: StartWorker, agentic: FakeAgenticBackend
) -> None:
    start_worker()
    gateway = _local_gateway(start_gateway)
    heard = Heard()
    await _converse(
        gateway,
        [
            ("Please ask the team to write a haiku about the sea.", 2),  # handed over; finished
            ("What is the weather like?", 3),
        ],
        heard,
    )
    [call] = heard.of("function_call")
    assert call["name"] == "send_to_nested"
    assert words(call["arguments"]["text"]) == words("write a haiku about the sea")
    assert agentic.received("MainConversation")[0]["type"] == "run"
    greeting, handed_over, summary, help_reply = heard.said("assistant")
    assert greeting == GREETING
    assert handed_over == "I've handed that to the team."
    assert summary.startswith("The team finished")
    assert help_reply.startswith("I can hand a task to the team")
    stages = {m["metric"] for m in heard.of("latency")}
    assert stages >= {"voice", "end_of_turn_wait", "speech_recognition", "brain",
                      "speech_synthesis_first_byte"}  # fmt: skip
    # Recognition and the end-of-turn judgement both started at the pause after the last word,
    # and the early transcripts were the turns' (nothing was said after that pause); smart-turn's
    # early "not finished" is asked again, so whether its result was kept is the model's call.
    metrics = await asyncio.to_thread(_metrics, gateway)
    series = 'gateway_early_decodes_total{{outcome="{}",stage="{}"}}'
    assert metrics[series.format("used", "recognition")] >= 2
    assert metrics[series.format("started", "turn")] >= 2
    greeted, first_turn, second_turn = heard.turn_audio()
    assert word_accuracy(GREETING, transcribe(greeted)) >= 0.8
    assert word_accuracy(f"{handed_over} {summary}", transcribe(first_turn)) >= 0.8
    assert word_accuracy(help_reply, transcribe(second_turn)) >= 0.8


async def test_a_command_said_with_a_pause_in_the_middle_is_one_turn_and_one_task(
    start_gateway: StartGateway, start_worker: StartWorker, agentic: FakeAgenticBackend
) -> None:
    """Said as "Have the team", half a second of silence, "summarise the meeting notes.":
    smart-turn hears the first half as finished and Whisper writes it "Have the team." with a
    full stop; the words say a hand-off with no task yet, so the turn waits for the rest."""
    start_worker()
    gateway = _local_gateway(start_gateway)
    said = piper_pcm("Have the team") + silence(450) + piper_pcm("summarise the meeting notes.")
    heard = await _say_once(gateway, "conv-local-paused", said + silence(1200), answers=2)
    [call] = heard.of("function_call")
    assert call["name"] == "send_to_nested"
    assert "meeting notes" in call["arguments"]["text"].lower()
    assert agentic.received("MainConversation")[0]["type"] == "run"
    greeting, handed_over, summary = heard.said("assistant")  # no help reply in between
    assert greeting == GREETING
    assert handed_over == "I've handed that to the team."
    assert summary.startswith("The team finished")
    assert len(heard.interruptions) == 1  # each user turn opens with one: there was one


def _team_reports_then_default(request: RecordedRequest) -> Reply:
    """The fake LLM: a short spoken summary for a finished run, else its default behaviour."""
    if (request.last_user_text or "").startswith("[TEAM RESULT]"):
        return Say("The team has written the haiku.")
    return default_scenario(request)


async def test_llm_path_calls_tools_and_summarises_the_run(
    start_gateway: StartGateway, start_worker: StartWorker, agentic: FakeAgenticBackend
) -> None:
    start_worker()
    with FakeChatServer(scenario=_team_reports_then_default) as llm:
        gateway = _local_gateway(start_gateway, LLM_BASE_URL=llm.url, LLM_MODEL="fake-local")
        heard = Heard()
        await _converse(
            gateway, [("Please ask the team to write a haiku about the sea.", 2)], heard
        )
        requests = llm.completions()
    assert sorted(requests[0].tool_names) == [
        "pause", "pause_claude_code", "reset", "send_to_claude_code", "send_to_nested",
    ]  # fmt: skip
    assert requests[0].model == "fake-local"
    [call] = heard.of("function_call")
    assert call["name"] == "send_to_nested"
    # The words after "team to", as the fake model takes them; whether Whisper ends the
    # sentence with a full stop depends on where its decode started (a CI run had none).
    assert list(call["arguments"]) == ["text"]
    task = call["arguments"]["text"]
    assert words(task) == words("write a haiku about the sea"), heard.said("user")
    assert agentic.received("MainConversation")[0]["type"] == "run"
    # The team's messages reached the model as tagged lines, and the run's end as a request
    # for a summary, which it spoke without being asked.
    context = [m.get("content") for m in requests[-1].messages if m["role"] == "user"]
    assert any(str(line).startswith("[TEAM Coder] Using tool") for line in context)
    assert str(context[-1]).startswith("[TEAM RESULT] The team finished.")
    greeting, handed_over, summary = heard.said("assistant")
    assert (greeting, handed_over, summary) == (
        GREETING, "Done: I've handed that to the team.", "The team has written the haiku.",
    )  # fmt: skip
    _, turn = heard.turn_audio()
    assert word_accuracy(f"{handed_over} {summary}", transcribe(turn)) >= 0.8


def _routes_as_the_router(request: RecordedRequest) -> Reply:
    """The fake LLM decides as the command router does, a hand-off being a tool call; a run's
    end gets a short summary, a tool's result its default "Done: <result>"."""
    if (request.last_user_text or "").startswith("[TEAM RESULT]"):
        return Say("The team has written the haiku.")
    last = request.last_message
    if last is None or last.get("role") != "user":
        return default_scenario(request)
    command = route(request.last_user_text or "")
    if command.tool is None:
        return Say("I can hand a task to the team or to Claude Code.")
    return CallTool(str(command.tool), {"text": command.text} if command.text else {})


async def test_with_an_llm_a_pause_mid_command_costs_no_wrong_answer(
    start_gateway: StartGateway, start_worker: StartWorker, agentic: FakeAgenticBackend
) -> None:
    """The model starts on the words heard at each pause (speculative answers) and takes
    300 ms to its first token. Said as "Ask the team to", 600 ms of silence, "write a haiku
    about the sea.": the first half is no request and starts nothing; whatever was started on
    the whole sentence, the team is handed the task once, after the turn, and the user hears
    no answer to half a sentence."""
    start_worker()
    with FakeChatServer(scenario=_routes_as_the_router, first_token_delay_s=0.3) as llm:
        gateway = _local_gateway(start_gateway, LLM_BASE_URL=llm.url, LLM_MODEL="fake-local")
        said = piper_pcm("Ask the team to") + silence(600)
        said += piper_pcm("write a haiku about the sea.") + silence(1500)
        heard = await _say_once(gateway, "conv-local-llm-paused", said, answers=2)
    [call] = heard.of("function_call")
    assert call["name"] == "send_to_nested"
    assert words(call["arguments"]["text"]) == words("write a haiku about the sea")
    assert [m["type"] for m in agentic.received("MainConversation")].count("run") == 1
    assert heard.said("assistant") == [
        GREETING, "Done: I've handed that to the team.", "The team has written the haiku.",
    ]  # fmt: skip
    assert len(heard.interruptions) == 1  # one user turn


async def test_speaking_over_the_local_brain_stops_its_audio(
    start_gateway: StartGateway, start_worker: StartWorker
) -> None:
    start_worker()
    gateway = _local_gateway(start_gateway)
    heard, client = Heard(), VoiceClient("raw")
    url = ws_url(gateway, "/api/realtime/pipecat/ws/conv-barge")
    async with connect(url) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        await heard.wait_for_answers(1, receiver, "the greeting")
        weather = silence(300) + piper_pcm("What is the weather like?") + silence(1200)
        await stream_at_real_time(ws.send, weather)

        async def speaking() -> bool:
            return bool(heard.of("speaking")[-1]["speaking"])

        await async_wait_until(speaking, timeout_s=30, what="the help reply to start")
        help_started = len(heard.audio)
        await stream_at_real_time(ws.send, piper_pcm("Hold on.") + silence(1200))

        async def answered() -> bool:
            return len(heard.said("assistant")) >= 2

        await async_wait_until(answered, timeout_s=30, what="the answer to the barge-in")
        await ws.send(client.stop())
        await asyncio.wait_for(receiver, 10)

    [call] = heard.of("function_call")
    assert call["name"] == "pause"  # "Hold on." was heard and understood
    # The help reply stopped where the user spoke: far less of it was played than it holds,
    # and none of it counts as said.
    help_heard = next(at for at in heard.interruptions if at >= help_started) - help_started
    assert 0 < help_heard < 0.6 * len(piper_pcm(HELP_REPLY))
    assert not any(text.startswith(HELP_REPLY[:20]) for text in heard.said("assistant"))


async def test_a_failing_llm_costs_the_turn_not_the_session(start_gateway: StartGateway) -> None:
    with FakeChatServer(scenario=Fail(500, retry=False)) as llm:
        gateway = _local_gateway(start_gateway, LLM_BASE_URL=llm.url)
        heard, client = Heard(), VoiceClient("raw")
        url = ws_url(gateway, "/api/realtime/pipecat/ws/conv-fail")
        async with connect(url) as ws:
            receiver = asyncio.create_task(heard.receive(ws, client))
            said = silence(300) + piper_pcm("What is the weather like?") + silence(1200)
            await stream_at_real_time(ws.send, said)

            # A loaded machine may send the audio in a burst, which the gateway answers with a
            # non-fatal `rate_limited` notice first: the test waits for the brain's own error.
            def brain_errors() -> list[dict[str, Any]]:
                return [e for e in heard.of("error") if e["code"] == "brain_error"]

            async def errored() -> bool:
                return bool(brain_errors())

            await async_wait_until(errored, timeout_s=30, what="the LLM failure reported")
            await ws.send(json.dumps({"type": "ping", "id": "after"}))

            async def ponged() -> bool:
                return any(m.get("id") == "after" for m in heard.of("pong"))

            await async_wait_until(ponged, what="the session still answering")
            await ws.send(client.stop())
            await asyncio.wait_for(receiver, 10)
        assert llm.completions()  # the request was made, and failed
    [error] = brain_errors()
    assert error["fatal"] is False
    assert heard.of("session")[-1]["reason"] == "client_closed"  # not upstream_error


# What must never be heard: a URL or address read out, a port, an exception's name.
_TECHNICAL = re.compile(
    r"\b(ws|wss|http|https|colon|slash|dot|localhost|host|docker|internal|api|runs|port"
    r"|exception|traceback|error|errno|refused|connect\w*)\b|\d",
    re.IGNORECASE,
)


async def test_a_failure_is_spoken_as_a_short_sentence_and_detailed_in_the_log(
    start_gateway: StartGateway, start_worker: StartWorker, redis_client: redis.Redis
) -> None:
    """The team backend is down: the assistant says so in a few plain words (heard back by
    Whisper); the address and the cause are in the stored event instead."""
    nobody = f"ws://127.0.0.1:{free_port()}"
    start_worker(AGENTIC_WS_URL=nobody)
    gateway = _local_gateway(start_gateway)
    heard = Heard()
    await _converse(gateway, [("Please ask the team to write a haiku about the sea.", 1)], heard)
    [result] = heard.of("function_result")
    assert (result["ok"], result["result"]) == (False, "I can't reach the team right now.")
    _, failure = heard.said("assistant")
    assert failure == "I can't reach the team right now."
    _, spoken = heard.turn_audio()
    heard_text = transcribe(spoken)
    assert word_accuracy(failure, heard_text) >= 0.8, heard_text
    assert not _TECHNICAL.search(heard_text), heard_text

    events = streamed_events(redis_client, "conv-local")
    [logged] = [e for e in events if e.type == "function_result"]
    assert logged.payload["error_kind"] == "unreachable"
    assert logged.payload["detail"].startswith(f"{nobody}/api/runs/MainConversation is not")
    [worker_error] = [e for e in events if e.source == "tool_worker" and e.type == "error"]
    assert worker_error.payload["detail"] == logged.payload["detail"]


def _json_records(process: ManagedProcess) -> list[dict[str, Any]]:
    """Every line the process wrote, each of which must be one JSON object."""
    records = []
    for line in process.log_path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{process.spec.name} wrote a non-JSON line: {line}") from None
    return records


async def test_containers_log_one_json_format_with_each_warning_once(
    start_gateway: StartGateway, start_worker: StartWorker, start_event_store: StartEventStore
) -> None:
    """As in the containers (JSON logs): two local-brain sessions with a tool call each, and
    every line of every service is a JSON object with the same keys; no deprecated Pipecat API
    is used; no warning is repeated (Pipecat's used to be once per session)."""
    processes = [
        start_event_store(EVENT_STORE_LOG_JSON="true"),
        start_worker(TOOL_WORKER_LOG_JSON="true"),
        _local_gateway(start_gateway, GATEWAY_LOG_JSON="true"),
    ]
    for _ in range(2):
        heard = Heard()
        await _converse(processes[-1], [("Please ask the team to write a haiku.", 2)], heard)
    for process in processes:
        process.stop()
        records = _json_records(process)
        assert records, f"{process.spec.name} logged nothing"
        for record in records:
            assert {"timestamp", "level", "logger", "event"} <= set(record), record
        assert not [r for r in records if "deprecat" in json.dumps(r).lower()]
        warnings = [r["event"] for r in records if r["level"] == "warning"]
        assert len(warnings) == len(set(warnings)), warnings
    gateway_loggers = {r["logger"] for r in _json_records(processes[-1])}
    assert {"uvicorn.error", "voice_gateway.sessions.session"} <= gateway_loggers
