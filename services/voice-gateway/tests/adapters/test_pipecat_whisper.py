"""Canary: fails on a Pipecat upgrade that changes how its Whisper service loads its model."""

import pytest
from pipecat.services.whisper.stt import WhisperSTTService

from voice_gateway.adapters import pipecat_whisper
from voice_gateway.adapters.pipecat_version import PipecatMismatch
from voice_gateway.adapters.pipecat_whisper import SharedWhisperSTT, self_check
from voice_gateway.brains.whisper_window import WindowedWhisper


def test_the_installed_pipecat_loads_whisper_as_the_adapter_expects() -> None:
    self_check()


def test_another_pipecat_version_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipecat_whisper, "PIPECAT_VERSION", "0.0.1")
    with pytest.raises(PipecatMismatch, match=r"0\.0\.1"):
        self_check()


def test_the_service_takes_the_shared_model_instead_of_loading_one() -> None:
    model = WindowedWhisper(object())
    stt = SharedWhisperSTT(model, settings=WhisperSTTService.Settings(model="/nowhere"))
    assert stt._model is model
