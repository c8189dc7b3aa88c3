"""The audio taps: what they count and which turns they time (Pipecat's frame-level harness)."""

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    LLMFullResponseStartFrame,
    OutputAudioRawFrame,
    ProposedUserStoppedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import run_test

from contracts.browser import VOICED_PEAK
from voice_gateway import metrics
from voice_gateway.processors.taps import (
    AudioInMeter,
    AudioOut,
    AudioOutMeter,
    TurnClock,
)
from voice_gateway.transport.wire import RawPCMSerializer

FRAME_SAMPLES = 480  # 20 ms at 24 kHz


def _pcm(peak: int) -> bytes:
    return (peak.to_bytes(2, "little", signed=True) + bytes(2)) * (FRAME_SAMPLES // 2)


def _user(peak: int) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=_pcm(peak), sample_rate=24000, num_channels=1)


def _assistant() -> OutputAudioRawFrame:
    return OutputAudioRawFrame(audio=_pcm(1000), sample_rate=24000, num_channels=1)


async def _run(frames: list[Frame]) -> list[tuple[str, float]]:
    reported: list[tuple[str, float]] = []

    async def on_latency(metric: str, seconds: float) -> None:
        reported.append((metric, seconds))

    async def on_speaking(_: bool) -> None:
        pass

    clock = TurnClock(on_latency)
    meter = AudioInMeter(clock)

    class Serializer(FrameProcessor):  # where the meter is called: as frames come in
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                meter(frame.audio)
            await self.push_frame(frame, direction)

    await run_test(Pipeline([Serializer(), AudioOut(clock, on_speaking)]), frames_to_send=frames)
    return reported


async def test_a_user_turn_is_timed_once_from_its_last_voiced_frame() -> None:
    reported = await _run([
        _user(VOICED_PEAK), _user(-VOICED_PEAK * 4), _user(VOICED_PEAK - 1),  # speech, then quiet
        ProposedUserStoppedSpeakingFrame(),
        _assistant(), _assistant(),
    ])  # fmt: skip
    assert [metric for metric, _ in reported] == ["upstream_first_byte", "voice"]
    upstream, voice = (seconds for _, seconds in reported)
    assert voice >= upstream > 0  # the user's last word came before the brain's end of turn


async def test_speech_without_a_user_turn_is_not_timed() -> None:
    # A spoken summary the model starts on its own, or a turn with nothing but noise.
    assert await _run([_assistant(), _user(10), ProposedUserStoppedSpeakingFrame()]) == []
    only_upstream = await _run([_user(10), ProposedUserStoppedSpeakingFrame(), _assistant()])
    assert [metric for metric, _ in only_upstream] == ["upstream_first_byte"]


async def test_audio_is_counted_both_ways() -> None:
    def counted(direction: str) -> tuple[float, float]:
        return (
            metrics.AUDIO_FRAMES.labels(direction)._value.get(),
            metrics.AUDIO_BYTES.labels(direction)._value.get(),
        )

    async def on_latency(_: str, __: float) -> None:
        pass

    # As the transport uses them: the serializer meters what it decodes and what it writes.
    serializer = RawPCMSerializer(
        max_frames_per_second=1000,
        on_audio=AudioInMeter(TurnClock(on_latency)),
        on_audio_out=AudioOutMeter(),
    )
    before_in, before_out = counted("in"), counted("out")
    for _ in range(2):
        await serializer.deserialize(_pcm(0))
    await serializer.serialize(_assistant())
    assert counted("in") == (before_in[0] + 2, before_in[1] + 2 * FRAME_SAMPLES * 2)
    assert counted("out") == (before_out[0] + 1, before_out[1] + FRAME_SAMPLES * 2)


async def test_a_turn_is_broken_into_stages() -> None:
    reported = await _run([
        _user(VOICED_PEAK),
        VADUserStoppedSpeakingFrame(), UserStoppedSpeakingFrame(),
        LLMFullResponseStartFrame(), _assistant(),
    ])  # fmt: skip
    assert [metric for metric, _ in reported] == [
        "upstream_first_byte", "end_of_turn_wait", "brain", "speech_synthesis_first_byte",
        "voice",
    ]  # fmt: skip


async def test_recognition_that_ends_after_the_turn_is_still_timed() -> None:
    """Whisper may finish after smart-turn has ended the turn (the transcript is then awaited
    before the answer): speech recognition is reported either way."""
    reported: list[str] = []

    async def on_latency(metric: str, _: float) -> None:
        reported.append(metric)

    clock = TurnClock(on_latency)
    clock.mark("vad_stopped")
    clock.turn_ended()
    clock.mark("transcribed")
    clock.mark("answered")
    clock.mark("transcribed")  # a late one belongs to no answer already given
    await clock.audio_out()
    assert "speech_recognition" in reported
