"""The brain behind a session: what differs between OpenAI Realtime (speech to speech, in the
cloud) and the local brain (`local_brain.py`). The session builds the rest of the pipeline
(transport, protocol, taps, context aggregators) around it the same way for both."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMTextFrame,
)
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies

from contracts.browser import SAMPLE_RATE
from contracts.progress import RunProgress
from voice_gateway.adapters.pipecat_realtime import RealtimeLLM
from voice_gateway.brains.progress import SUMMARY_REQUEST
from voice_gateway.settings import Settings
from voice_gateway.tools.definitions import TOOL_SCHEMAS, ToolCaller, register_tools

QueueFrame = Callable[[Frame], Awaitable[None]]  # into the pipeline, from its start
OnProgress = Callable[[RunProgress], Awaitable[None]]


@dataclass(frozen=True)
class Persona:
    voice: str
    agent_name: str
    system_prompt: str


@dataclass
class Brain:
    model: FrameProcessor  # the LLM, the Realtime service or the command router
    on_progress: OnProgress  # a team or Claude Code message arrived
    listen: list[FrameProcessor] = field(default_factory=list)  # before the user aggregator
    speak: list[FrameProcessor] = field(default_factory=list)  # after the model
    user_params: LLMUserAggregatorParams | None = None
    # The pipeline's input rate: the transport stays at the wire's 24 kHz either way.
    in_sample_rate: int = SAMPLE_RATE
    # Speech recognition in the pipeline sends transcripts downstream into the user aggregator,
    # which consumes them; the Realtime service sends them upstream past it.
    transcripts_downstream: bool = False
    # Run the model once at the start (the Realtime service greets; without this first run
    # Pipecat races a second response.create against tool results: docs/pipecat.md).
    run_on_start: bool = False
    # The Realtime connection is the session: any error from it ends the session. The local
    # brain's parts fail per turn (an LLM request, a synthesis): the session goes on.
    errors_end_session: bool = True
    # Whatever the brain holds beyond the pipeline's life (an HTTP client's connections).
    close: Callable[[], Awaitable[None]] | None = None
    # Said when the session starts (the Realtime model greets by itself: `run_on_start`).
    greeting: str | None = None


BrainFactory = Callable[[Settings, Persona, ToolCaller, QueueFrame], Brain]


def spoken_answer(text: str) -> list[Frame]:
    """Text said as an LLM's answer is: the speech service reads it, the taps see its end, the
    assistant's context keeps it."""
    return [LLMFullResponseStartFrame(), LLMTextFrame(text), LLMFullResponseEndFrame()]


def context_progress(queue: QueueFrame) -> OnProgress:
    """Progress for a model with a context: a tagged line it reads without answering, and a
    request for a short spoken summary when a run ends."""

    async def on_progress(step: RunProgress) -> None:
        content = SUMMARY_REQUEST.format(line=step.line) if step.finished else step.line
        await queue(
            LLMMessagesAppendFrame(
                messages=[{"role": "user", "content": content}], run_llm=step.finished
            )
        )

    return on_progress


def realtime_brain(
    settings: Settings, persona: Persona, caller: ToolCaller, _: QueueFrame
) -> Brain:
    llm = realtime_llm(settings, persona)
    register_tools(llm, caller)
    # Progress goes straight into the service: it owns the Realtime conversation.
    return Brain(
        model=llm,
        on_progress=context_progress(llm.queue_frame),
        # The service detects turns itself; Pipecat's defaults would load smart-turn (about
        # 40 ms of blocking CPU and its memory) for every session only to set it aside.
        user_params=LLMUserAggregatorParams(user_turn_strategies=ExternalUserTurnStrategies()),
        run_on_start=True,
    )


def realtime_llm(settings: Settings, persona: Persona) -> RealtimeLLM:
    """Pipecat's Realtime service with everything the session needs set where the GA API reads
    it (Pipecat silently ignores misplaced settings: tests assert these reach the wire)."""
    assert settings.openai_api_key is not None
    session = events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(
                # Without this the API sends no transcripts of what the user says.
                transcription=events.InputAudioTranscription(model="whisper-1"),
                turn_detection=events.TurnDetection(silence_duration_ms=500),
            ),
            output=events.AudioOutput(voice=persona.voice),
        ),
        tools=TOOL_SCHEMAS,
    )
    llm_settings = OpenAIRealtimeLLMService.Settings(
        system_instruction=persona.system_prompt, session_properties=session
    )
    if settings.openai_model:  # unset: Pipecat's default, which tracks the GA API it speaks
        llm_settings.model = settings.openai_model
    return RealtimeLLM(
        ready_timeout_s=settings.upstream_ready_timeout_s,
        stall_timeout_s=settings.upstream_stall_timeout_s,
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_realtime_url,
        settings=llm_settings,
    )


class BrainUnavailable(Exception):
    """The configured brain cannot run here; the reason is shown to whoever connects."""


def choose_brain(settings: Settings) -> BrainFactory:
    """The configured brain's factory; raises `BrainUnavailable` saying what is missing."""
    if settings.brain == "openai":
        from voice_gateway.adapters.pipecat_realtime import self_check

        self_check()  # Pipecat's internals it overrides are still there (raises if not)
        return realtime_brain
    from voice_gateway.brains.local import check_local_brain, local_brain

    check_local_brain(settings)
    return local_brain


def unavailable_brain(reason: str) -> BrainFactory:
    """Stands in when the configured brain cannot run: sessions are refused before they get
    here (`Services.brain_problem`), and one that did would fail saying why."""

    def refuse(*_: object) -> Brain:
        raise BrainUnavailable(reason)

    return refuse
