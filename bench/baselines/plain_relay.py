"""A plain Pipecat relay: the baseline `audio_quality.py --plain` puts in the gateway's place (not
a benchmark of its own: `make bench` runs only `bench/*.py`).

    .venv/bin/python bench/baselines/plain_relay.py --port 8099 --realtime-url ws://127.0.0.1:PORT/v1/...

Pipecat's FastAPI WebSocket transport and its OpenAI Realtime service, nothing else: no
admission, no taps, no tools, no events, no metrics. It speaks just enough of the gateway's raw
format for a `harness.ear_trace.Listener`: binary PCM16 24 kHz mono both ways, and
`{"type": "speaking", "speaking": false}` when the bot stops speaking.
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    LLMRunFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

RATE = 24_000


class RawPCM(FrameSerializer):
    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return json.dumps(frame.message)
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            return InputAudioRawFrame(audio=data, sample_rate=RATE, num_channels=1)
        return None


class Speaking(FrameProcessor):
    """Tells the client when the bot stopped speaking (the listener's turn boundary)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            message = {"type": "speaking", "speaking": False}
            await self.push_frame(OutputTransportMessageUrgentFrame(message=message))


def app(realtime_url: str) -> FastAPI:
    api = FastAPI()

    @api.websocket("/api/realtime/pipecat/ws/{conversation_id}")
    async def relay(websocket: WebSocket, conversation_id: str) -> None:
        await websocket.accept()
        transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=RATE,
                audio_out_sample_rate=RATE,
                serializer=RawPCM(),
            ),
        )
        session = events.SessionProperties(
            audio=events.AudioConfiguration(
                input=events.AudioInput(turn_detection=events.TurnDetection())
            )
        )
        llm = OpenAIRealtimeLLMService(
            api_key="bench",
            base_url=realtime_url,
            settings=OpenAIRealtimeLLMService.Settings(
                system_instruction=conversation_id, session_properties=session
            ),
        )
        pair = LLMContextAggregatorPair(LLMContext())
        pipeline = Pipeline([
            transport.input(),
            pair.user(),
            llm,
            Speaking(),
            transport.output(),
            pair.assistant(),
        ])  # fmt: skip
        worker = PipelineWorker(
            pipeline, params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE)
        )

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def gone(*_: object) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await worker.queue_frame(LLMRunFrame())
        await runner.run()

    return api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--realtime-url", required=True)
    args = parser.parse_args()
    uvicorn.run(app(args.realtime_url), host="127.0.0.1", port=args.port, loop="uvloop")


if __name__ == "__main__":
    main()
