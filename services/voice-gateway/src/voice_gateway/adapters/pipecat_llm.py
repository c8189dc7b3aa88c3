"""Pipecat's OpenAI-compatible LLM service as the local brain runs it: its client closed with the
session, and a tool call of a speculative answer held until the turn is confirmed.

Why the hold: the local brain starts the model on the words heard at a pause, before the turn is
sure to be over (`brains/turn_stop.py`), and Pipecat's `SpeculationGate` holds what the answer
says until the turn ends. A tool call is not something the gate can hold: Pipecat 1.14 withdraws
the whole speculation when the model asks for one, and the model runs again once the turn ends.
Most of what users say here is a hand-off ("Ask the team to..."), a tool call, so speculation
would win nothing for them. Here the call is held instead, and run when the turn is confirmed
(the `UserStoppedSpeakingFrame` that releases the gate), or dropped with the speculation
(`EagerEndOfTurnCancelFrame`, an interruption). Nothing reaches the agentic backend before the
user has finished.

Whether the answer in flight is speculative is the gate's to say (`SpeculationGate.is_speculating`,
public), but Pipecat keeps its gate in a private attribute, `_speculation_gate`. `self_check()`
checks it, and that `run_function_calls` still asks it, when the local brain warms up and in a
canary test (tests/adapters/test_pipecat_llm.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openai import AsyncOpenAI
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    FunctionCallFromLLM,
    InterruptionFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService

from voice_gateway.adapters.pipecat_version import require_names, require_pipecat_version


class LocalLLM(OpenAILLMService):
    """`OpenAILLMService` keeping the client it creates (through its `create_client` hook) so the
    session can close it, since Pipecat never does and its keep-alive sockets would outlive every
    session; and holding a speculative answer's tool calls until its turn is confirmed."""

    openai_client: AsyncOpenAI

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._held_calls: Sequence[FunctionCallFromLLM] = ()
        self.calls_held = 0  # for the tests: calls held, and of those dropped
        self.calls_dropped = 0

    def create_client(self, *args: Any, **kwargs: Any) -> AsyncOpenAI:
        self.openai_client = super().create_client(*args, **kwargs)  # type: ignore[no-untyped-call]
        return self.openai_client

    async def run_function_calls(self, function_calls: Sequence[FunctionCallFromLLM]) -> None:
        # No await between the question and the hold: a turn confirmed meanwhile could not slip
        # between them and leave the calls held with nothing left to release them.
        if function_calls and self._speculation_gate.is_speculating:
            self._held_calls = function_calls
            self.calls_held += 1
            return
        await super().run_function_calls(function_calls)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)  # the frame has passed the gate
        if isinstance(frame, (EagerEndOfTurnCancelFrame, InterruptionFrame)) and self._held_calls:
            self._held_calls = ()
            self.calls_dropped += 1
        elif isinstance(frame, UserStoppedSpeakingFrame) and self._held_calls:
            calls, self._held_calls = self._held_calls, ()
            await super().run_function_calls(calls)


def self_check() -> None:
    """Fail loudly if Pipecat's LLM service no longer keeps its gate where `LocalLLM` reads it."""
    require_pipecat_version("pipecat_llm.py", "LLMService._speculation_gate")
    require_names(
        LLMService.__init__, "_speculation_gate", otherwise="LocalLLM reads a gate that is gone"
    )
    require_names(
        LLMService.run_function_calls,
        "_speculation_gate",
        "is_speculating",
        otherwise="a speculative tool call may now run before the turn is confirmed",
    )
