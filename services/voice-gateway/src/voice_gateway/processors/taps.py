"""Frame processors that watch the pipeline and report what happened, without changing it.

They run in Pipecat's direct mode: each frame is handled inside the push that brings it, with no
queue and task of its own. A queued stage costs every frame a queue hand-off and a task switch
(with 20 sessions streaming, 1,000 microphone frames a second pass each stage); these stages
never wait on anything slow, so the queue bought nothing. Measured in bench/audio_quality.py:
docs/benchmarks.md."""

import time
from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    OutputAudioRawFrame,
    ProposedUserStoppedSpeakingFrame,
    TranscriptionFrame,
    TTSTextFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from voice_gateway import metrics
from voice_gateway.processors.levels import voiced

OnText = Callable[[str, str], Awaitable[None]]  # (role, text)
OnError = Callable[[str, bool], Awaitable[None]]  # (message, fatal)
OnLatency = Callable[[str, float], Awaitable[None]]  # (metric, seconds)
OnSpeaking = Callable[[bool], Awaitable[None]]


# (stage, from mark, to mark): where the time between the user's last word and the first
# audio of the answer goes. Marks a brain does not produce leave their stages out.
STAGES = (
    ("end_of_turn_wait", "vad_stopped", "turn_ended"),  # VAD's silence to the turn decision
    ("speech_recognition", "vad_stopped", "transcribed"),
    ("brain", "turn_ended", "answered"),  # the router, the LLM (first token), or Realtime
    ("speech_synthesis_first_byte", "answered", "audio"),
)


class TurnClock:
    """Times one session's turns from marks the taps set: the last voiced frame in, the VAD's
    stop, the transcript, the end of the turn, the brain's answer, the first audio out."""

    def __init__(self, on_latency: OnLatency) -> None:
        self._on_latency = on_latency
        self.last_voiced_at: float | None = None
        self.last_activity = time.monotonic()  # someone spoke: voiced input, transcript, audio
        self._marks: dict[str, float] = {}

    def voiced(self) -> None:
        self.last_voiced_at = self.last_activity = time.monotonic()

    def active(self) -> None:
        self.last_activity = time.monotonic()

    def mark(self, name: str) -> None:
        now, ended = time.monotonic(), "turn_ended" in self._marks
        if name == "vad_stopped":
            if not ended:  # the latest before the turn ends: the user may pause and go on
                self._marks[name] = now
        elif name == "transcribed":
            # The latest before the answer: recognition may finish after the turn has ended.
            if "answered" not in self._marks:
                self._marks[name] = now
        elif name == "turn_ended" or ended:  # the first; an answer counts only after a turn
            self._marks.setdefault(name, now)

    def turn_ended(self) -> None:
        self.mark("turn_ended")

    async def audio_out(self) -> None:
        self.last_activity = time.monotonic()
        marks = self._marks
        if "turn_ended" not in marks:  # not the first audio after a user turn
            return
        marks["audio"] = now = time.monotonic()
        self._marks = {}
        upstream = now - marks["turn_ended"]
        metrics.UPSTREAM_FIRST_BYTE_SECONDS.observe(upstream)
        await self._on_latency("upstream_first_byte", upstream)
        for stage, start, end in STAGES:
            if start in marks and end in marks and marks[end] >= marks[start]:
                seconds = marks[end] - marks[start]
                metrics.TURN_STAGE_SECONDS.labels(stage).observe(seconds)
                await self._on_latency(stage, seconds)
        if self.last_voiced_at is not None and self.last_voiced_at <= marks["turn_ended"]:
            voice = now - self.last_voiced_at
            metrics.VOICE_LATENCY_SECONDS.observe(voice)
            await self._on_latency("voice", voice)


class AudioInMeter:
    """Called by the serializer for each audio frame from the browser: counts it and notes when
    the user last spoke, without a pipeline stage of its own (every stage costs each frame a
    queue handoff)."""

    def __init__(self, clock: TurnClock) -> None:
        self._clock = clock
        self._frames = metrics.AUDIO_FRAMES.labels("in")
        self._bytes = metrics.AUDIO_BYTES.labels("in")

    def __call__(self, pcm: bytes) -> None:
        self._frames.inc()
        self._bytes.inc(len(pcm))
        if voiced(pcm):
            self._clock.voiced()


class AudioOutMeter:
    """Called by the serializer for each audio chunk it writes to the browser."""

    def __init__(self) -> None:
        self._frames = metrics.AUDIO_FRAMES.labels("out")
        self._bytes = metrics.AUDIO_BYTES.labels("out")

    def __call__(self, pcm: bytes) -> None:
        self._frames.inc()
        self._bytes.inc(len(pcm))


class AudioOut(FrameProcessor):
    """Last before the transport: times the assistant's first audio of a turn; the transport's
    speaking events come back past it."""

    def __init__(self, clock: TurnClock, on_speaking: OnSpeaking) -> None:
        super().__init__(name="audio-out", enable_direct_mode=True)
        self._clock = clock
        self._on_speaking = on_speaking

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputAudioRawFrame):
            await self._clock.audio_out()
        elif isinstance(frame, ProposedUserStoppedSpeakingFrame | UserStoppedSpeakingFrame):
            self._clock.turn_ended()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._clock.mark("vad_stopped")
        elif isinstance(frame, LLMFullResponseStartFrame):
            self._clock.mark("answered")
        elif direction == FrameDirection.UPSTREAM and isinstance(
            frame, BotStartedSpeakingFrame | BotStoppedSpeakingFrame
        ):
            await self._on_speaking(isinstance(frame, BotStartedSpeakingFrame))
        await self.push_frame(frame, direction)


class UserSide(FrameProcessor):
    """Where the user's transcripts pass on their way to the user aggregator (downstream from
    speech recognition, or upstream from the Realtime service), and errors upstream."""

    def __init__(self, clock: TurnClock, *, on_text: OnText, on_error: OnError) -> None:
        super().__init__(name="user-side", enable_direct_mode=True)
        self._clock = clock
        self._on_text = on_text
        self._on_error = on_error

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._clock.mark("transcribed")
            self._clock.active()
            await self._on_text("user", frame.text.strip())
        elif isinstance(frame, ErrorFrame):
            await self._on_error(frame.error, frame.fatal)
        await self.push_frame(frame, direction)


class AssistantSide(FrameProcessor):
    """After the output transport: the assistant's words as they were played, one transcript
    per response."""

    def __init__(self, *, on_text: OnText) -> None:
        super().__init__(name="assistant-side", enable_direct_mode=True)
        self._on_text = on_text
        self._parts: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSTextFrame):
            # Realtime deltas carry their own spaces; a speech service's sentences do not.
            joiner = "" if frame.includes_inter_frame_spaces or not self._parts else " "
            self._parts.append(joiner + frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame | InterruptionFrame) and self._parts:
            # Interrupted: the words played before the user spoke over them. Spaces collapsed:
            # a speech service's pieces may also carry their own.
            text, self._parts = " ".join("".join(self._parts).split()), []
            if text:
                await self._on_text("assistant", text)
        await self.push_frame(frame, direction)
