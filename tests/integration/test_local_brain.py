"""The local brain, end to end and offline: Piper speech streamed at real time into the gateway
(Silero VAD, smart-turn, Whisper, the command router or an OpenAI-compatible LLM, Piper), tools
run by the tool-worker against the fake team, and the spoken replies heard back by Whisper.

All processes are real (Redis, tool-worker, gateway); the agentic backend and the chat server
are protocol-faithful fakes.
"""

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_chat import (
    Fail,
    FakeChatServer,
    RecordedRequest,
    Reply,
    Say,
    default_scenario,
)
from harness.local_speech import piper_pcm, transcribe, word_accuracy, words
from harness.services import StartGateway, StartWorker, ws_url
from harness.speech import silence, stream_at_real_time
from harness.voice_clients import VoiceClient
from harness.waiting import async_wait_until
from stack import ManagedProcess
from voice_gateway.command_router import HELP_REPLY


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

    async def receive(self, ws: ClientConnection, client: VoiceClient) -> None:
        async for frame in ws:
            decoded = client.decode(frame)
            if decoded.audio is not None:
                self.audio += decoded.audio
            elif decoded.interruption:
                self.interruptions.append(len(self.audio))
            elif decoded.message is not None:
                self.messages.append(decoded.message)


def _local_gateway(start_gateway: StartGateway, **env: str) -> ManagedProcess:
    # Deterministic speech, so Whisper hears the same replies every run.
    return start_gateway(
        VOICE_BRAIN="local", OPENAI_API_KEY="", GATEWAY_PIPER_DETERMINISTIC="true", **env
    )


async def _converse(gateway: ManagedProcess, turns: list[tuple[str, int]], heard: Heard) -> None:
    """Say each utterance and wait until the assistant has finished that many answers."""
    client = VoiceClient("raw")
    url = ws_url(gateway, "/api/realtime/pipecat/ws/conv-local")
    async with connect(url) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        for text, answers in turns:
            await stream_at_real_time(ws.send, silence(300) + piper_pcm(text) + silence(1200))

            async def answered(n: int = answers) -> bool:
                if receiver.done():
                    receiver.result()
                done = len(heard.said("assistant")) >= n
                return done and not heard.of("speaking")[-1]["speaking"]

            await async_wait_until(answered, timeout_s=30, what=f"an answer to {text!r}")
            heard.turn_ends.append(len(heard.audio))
        await ws.send(client.stop())
        await asyncio.wait_for(receiver, 10)


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
    handed_over, summary, help_reply = heard.said("assistant")
    assert handed_over == "I've handed that to the team."
    assert summary.startswith("The team finished")
    assert help_reply.startswith("I can hand a task to the team")
    stages = {m["metric"] for m in heard.of("latency")}
    assert stages >= {"voice", "end_of_turn_wait", "speech_recognition", "brain",
                      "speech_synthesis_first_byte"}  # fmt: skip
    first_turn, second_turn = heard.turn_audio()
    assert word_accuracy(f"{handed_over} {summary}", transcribe(first_turn)) >= 0.8
    assert word_accuracy(help_reply, transcribe(second_turn)) >= 0.8


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
    assert call["arguments"] == {"text": "write a haiku about the sea."}
    assert agentic.received("MainConversation")[0]["type"] == "run"
    # The team's messages reached the model as tagged lines, and the run's end as a request
    # for a summary, which it spoke without being asked.
    context = [m.get("content") for m in requests[-1].messages if m["role"] == "user"]
    assert any(str(line).startswith("[TEAM Coder] Using tool") for line in context)
    assert str(context[-1]).startswith("[TEAM RESULT] The team finished.")
    handed_over, summary = heard.said("assistant")
    assert (handed_over, summary) == (
        "Done: I've handed that to the team.", "The team has written the haiku.",
    )  # fmt: skip
    [turn] = heard.turn_audio()
    assert word_accuracy(f"{handed_over} {summary}", transcribe(turn)) >= 0.8


async def test_speaking_over_the_local_brain_stops_its_audio(
    start_gateway: StartGateway, start_worker: StartWorker
) -> None:
    start_worker()
    gateway = _local_gateway(start_gateway)
    heard, client = Heard(), VoiceClient("raw")
    url = ws_url(gateway, "/api/realtime/pipecat/ws/conv-barge")
    async with connect(url) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        weather = silence(300) + piper_pcm("What is the weather like?") + silence(1200)
        await stream_at_real_time(ws.send, weather)

        async def speaking() -> bool:
            return any(m["speaking"] for m in heard.of("speaking"))

        await async_wait_until(speaking, timeout_s=30, what="the help reply to start")
        help_started = len(heard.audio)
        await stream_at_real_time(ws.send, piper_pcm("Hold on.") + silence(1200))

        async def answered() -> bool:
            return len(heard.said("assistant")) >= 1

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

            async def errored() -> bool:
                return bool(heard.of("error"))

            await async_wait_until(errored, timeout_s=30, what="the LLM failure reported")
            await ws.send(json.dumps({"type": "ping", "id": "after"}))

            async def ponged() -> bool:
                return any(m.get("id") == "after" for m in heard.of("pong"))

            await async_wait_until(ponged, what="the session still answering")
            await ws.send(client.stop())
            await asyncio.wait_for(receiver, 10)
        assert llm.completions()  # the request was made, and failed
    [error] = heard.of("error")
    assert (error["code"], error["fatal"]) == ("brain_error", False)
    assert heard.of("session")[-1]["reason"] == "client_closed"  # not upstream_error
