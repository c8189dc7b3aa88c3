"""A voice session's Pipecat pipeline, put together from its parts and nothing else.

    transport in -> client protocol -> the brain's listeners -> user side and aggregator
      -> the model -> the brain's speakers -> audio out -> transport out
      -> assistant side -> assistant aggregator

`voice_pipeline` does no I/O and starts nothing: given the transport's two ends, a brain and the
session's callbacks, it returns the Pipeline. So it runs under Pipecat's test helpers with
stand-ins for the transport (tests/sessions/test_pipeline.py); the session adds the socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.processors.frame_processor import FrameProcessor

from contracts.browser import ClientStats
from voice_gateway.brains.brain import Brain
from voice_gateway.processors.taps import AssistantSide, AudioOut, TurnClock, UserSide
from voice_gateway.tools.definitions import TOOL_SCHEMAS
from voice_gateway.transport.formats import WireFormat
from voice_gateway.transport.wire import ClientProtocol, ClientProtocolError


@dataclass(frozen=True, slots=True)
class SessionHooks:
    """What the pipeline tells its session."""

    on_stop: Callable[[], Awaitable[None]]  # the client asked to stop
    on_bad_frame: Callable[[ClientProtocolError], None]  # a frame the protocol refused
    on_text: Callable[[str, str], Awaitable[None]]  # (role, text): said, or heard in full
    on_error: Callable[[str, bool], Awaitable[None]]  # (error, fatal) from the brain's parts
    on_speaking: Callable[[bool], Awaitable[None]]  # the assistant started or stopped speaking
    on_client_stats: Callable[[ClientStats], Awaitable[None]]  # what the listener heard of a turn


def voice_pipeline(
    transport_in: FrameProcessor,
    transport_out: FrameProcessor,
    brain: Brain,
    wire: WireFormat,
    clock: TurnClock,
    hooks: SessionHooks,
) -> Pipeline:
    pair = LLMContextAggregatorPair(LLMContext(tools=TOOL_SCHEMAS), user_params=brain.user_params)
    # Where transcripts pass on their way to the user aggregator, which consumes them: before
    # it when speech recognition sends them downstream, after it when the Realtime service
    # sends them upstream.
    user_side = UserSide(clock, on_text=hooks.on_text, on_error=hooks.on_error)
    return Pipeline([
        transport_in,
        ClientProtocol(
            on_stop=hooks.on_stop,
            envelope=wire.envelope,
            on_error=hooks.on_bad_frame,
            on_stats=hooks.on_client_stats,
        ),
        *brain.listen,
        *([user_side] if brain.transcripts_downstream else []),
        pair.user(),
        *([] if brain.transcripts_downstream else [user_side]),
        brain.model,
        *brain.speak,
        AudioOut(clock, on_speaking=hooks.on_speaking),
        transport_out,
        # After the transport: what the user has heard, in step with the audio.
        AssistantSide(on_text=hooks.on_text),
        pair.assistant(),
    ])  # fmt: skip
