"""Pipecat's Whisper service on one model per process.

Why: Pipecat 1.14's `WhisperSTTService` loads its model in its constructor, through its private
`_load()`: every local-brain session would read and hold a Whisper model of its own (seconds of
start-up, tens of MB each). `SharedWhisperSTT` overrides `_load` to take the process's model,
loaded once by `shared_whisper` (CTranslate2 serves concurrent calls). Pipecat has no public seam
for it, so `self_check()` runs when the local brain warms up, and in a canary test
(tests/adapters/test_pipecat_whisper.py), and names what an upgrade changed. It needs the gateway's
`local` extra (faster-whisper), so only the local brain imports it.
"""

from __future__ import annotations

import functools
from typing import Any

import pipecat
from pipecat.services.whisper.stt import WhisperSTTService

from voice_gateway.adapters.pipecat_version import PIPECAT_VERSION, PipecatMismatch

COMPUTE_TYPE = "int8"  # the fastest on a CPU, and what the bundled model was measured with


class SingleTemperatureWhisper:
    """faster-whisper's model, decoding once, at temperature 0: with its default fallback
    through five higher temperatures, a short phrase that fails the log-probability check is
    decoded six times, 1.5 to 2 s instead of 0.3 s, and comes out different each run."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def transcribe(self, audio: Any, **options: Any) -> Any:
        return self._model.transcribe(audio, **options, temperature=0.0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@functools.cache
def shared_whisper(model_dir: str, device: str) -> SingleTemperatureWhisper:
    """The process's Whisper model, loaded on first use."""
    from faster_whisper import WhisperModel

    return SingleTemperatureWhisper(
        WhisperModel(model_dir, device=device, compute_type=COMPUTE_TYPE)
    )


class SharedWhisperSTT(WhisperSTTService):
    """`WhisperSTTService` on an already loaded model, instead of one of its own."""

    def __init__(self, model: SingleTemperatureWhisper, **kwargs: Any) -> None:
        self._shared_model = model  # before Pipecat's constructor calls `_load`
        super().__init__(**kwargs)

    def _load(self) -> None:
        self._model = self._shared_model


def self_check() -> None:
    """Fail loudly if Pipecat's Whisper service no longer loads through `_load` into `_model`."""
    if pipecat.__version__ != PIPECAT_VERSION:
        raise PipecatMismatch(
            f"pipecat_whisper.py overrides Pipecat {PIPECAT_VERSION}'s Whisper service, found "
            f"{pipecat.__version__}: check WhisperSTTService._load, then update this module"
        )
    if "_load" not in WhisperSTTService.__init__.__code__.co_names:
        raise PipecatMismatch("WhisperSTTService's constructor no longer calls _load")
    if "_model" not in WhisperSTTService._load.__code__.co_names:
        raise PipecatMismatch("WhisperSTTService._load no longer sets _model")
    if "_model" not in WhisperSTTService.run_stt.__code__.co_names:
        raise PipecatMismatch("WhisperSTTService.run_stt no longer reads _model")
