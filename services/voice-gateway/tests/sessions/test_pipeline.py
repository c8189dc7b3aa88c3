"""The session's pipeline, built with stand-ins for the socket and run by Pipecat's own test
helper: transcripts reach the session on the right side of the user aggregator for each kind of
brain, and what the assistant said is reported once, after the output."""

from __future__ import annotations

from typing import Any

import pytest
from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TranscriptionFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test
from pipecat.utils.time import time_now_iso8601

from contracts.progress import RunProgress
from voice_gateway.brains.brain import Brain
from voice_gateway.processors.taps import TurnClock, UserSide
from voice_gateway.sessions.pipeline import SessionHooks, voice_pipeline
from voice_gateway.transport.formats import FORMATS
from voice_gateway.transport.wire import ClientProtocolError


class PassThrough(FrameProcessor):
    """Where the socket's two ends would be, and a model that answers nothing."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Recorder:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    async def on_text(self, role: str, text: str) -> None:
        self.said.append((role, text))

    def hooks(self) -> SessionHooks:
        async def nothing(*_: Any) -> None:
            return None

        def refused(_: ClientProtocolError) -> None:
            return None

        return SessionHooks(nothing, refused, self.on_text, nothing, nothing, nothing)


def _brain(*, transcripts_downstream: bool) -> Brain:
    async def on_progress(_: RunProgress) -> None:
        return None

    return Brain(
        model=PassThrough(), on_progress=on_progress, transcripts_downstream=transcripts_downstream
    )


def _built(brain: Brain, recorder: Recorder) -> Any:
    async def no_latency(_: str, __: float) -> None:
        return None

    clock = TurnClock(on_latency=no_latency)
    return voice_pipeline(
        PassThrough(), PassThrough(), brain, FORMATS["raw"], clock, recorder.hooks()
    )


@pytest.mark.parametrize("downstream", [True, False], ids=["speech-recognition", "realtime"])
def test_the_user_side_sits_where_the_brain_sends_transcripts(downstream: bool) -> None:
    pipeline = _built(_brain(transcripts_downstream=downstream), Recorder())
    names = [type(p).__name__ for p in pipeline.processors[1:-1]]  # inside Pipecat's ends
    user_side = names.index(UserSide.__name__)
    aggregator = names.index("LLMUserAggregator")
    assert (user_side < aggregator) is downstream


async def test_a_recognised_phrase_reaches_the_session() -> None:
    recorder = Recorder()
    pipeline = _built(_brain(transcripts_downstream=True), recorder)
    phrase = TranscriptionFrame("ask the team", "user", time_now_iso8601())
    await run_test(pipeline, frames_to_send=[phrase])
    assert recorder.said == [("user", "ask the team")]


async def test_the_answer_is_reported_once_in_full_after_the_output() -> None:
    recorder = Recorder()
    pipeline = _built(_brain(transcripts_downstream=True), recorder)
    await run_test(
        pipeline,
        frames_to_send=[
            LLMFullResponseStartFrame(),
            TTSTextFrame("The team", text_type="sentence"),
            TTSTextFrame("is on it.", text_type="sentence"),
            LLMFullResponseEndFrame(),
        ],
    )
    assert recorder.said == [("assistant", "The team is on it.")]
