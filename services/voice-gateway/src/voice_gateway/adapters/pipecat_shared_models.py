"""Silero VAD and smart-turn analyzers that share one ONNX session per process.

Why: Pipecat 1.14 loads both ONNX models in each analyzer's constructor, so every local-brain
session built two inference sessions of its own (about 50 ms of CPU) and, when it ended, left
their native memory behind: the gateway grew by tens of MB per session and never gave it back
(about 1.2 GB after 40 sessions). An onnxruntime session holds no per-stream state and runs
concurrent calls, so one per process serves every voice session; what is per stream (Silero's
recurrent state and audio context, smart-turn's audio buffer and thread) stays in each
analyzer, as in Pipecat's own classes.

Pipecat has no seam to hand a loaded model to these analyzers, so the subclasses below set the
attributes Pipecat's constructors would set. That ties this module to the exact Pipecat version
pinned in pyproject.toml: `self_check()` runs at startup and compares every attribute and an
actual result with Pipecat's own analyzers, so an upgrade that changes them fails loudly at
start (and in the canary test) instead of misbehaving quietly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable
from importlib import resources
from typing import Any

import numpy as np
import onnxruntime as ort
import pipecat
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams
from pipecat.metrics.metrics import MetricsData
from pipecat.utils.env import env_truthy

from voice_gateway.adapters.pipecat_version import PipecatMismatch, require_pipecat_version
from voice_gateway.brains.early_decode import EarlyDecode

SILERO_MODEL = ("pipecat.audio.vad.data", "silero_vad.onnx")
SMART_TURN_MODEL = ("pipecat.audio.turn.smart_turn.data", "smart-turn-v3.2-cpu.onnx")
OWN_ATTRIBUTES = {"_early_turn"}  # what the shared analyzers add to Pipecat's
Prediction = tuple[EndOfTurnState, MetricsData | None]


def _model_path(package_and_name: tuple[str, str]) -> str:
    package, name = package_and_name
    return str(resources.files(package).joinpath(name))


def _options() -> ort.SessionOptions:
    """Sessions shared by every voice session run many calls at once; onnxruntime's default
    arena would keep, for the process's life, as much memory as the most concurrent calls ever
    needed. Without it each call's buffers are freed when it returns."""
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    return options


@functools.cache
def silero_session() -> ort.InferenceSession:
    """Silero's model with the options `SileroOnnxModel` uses (one thread, CPU)."""
    options = _options()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        _model_path(SILERO_MODEL), providers=["CPUExecutionProvider"], sess_options=options
    )


@functools.cache
def smart_turn_session() -> ort.InferenceSession:
    """smart-turn v3 with the options `LocalSmartTurnAnalyzerV3` uses (cpu_count=1)."""
    options = _options()
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(_model_path(SMART_TURN_MODEL), sess_options=options)


class _SharedSileroModel(SileroOnnxModel):
    """Silero's per-stream state around the process's session."""

    def __init__(self, session: ort.InferenceSession) -> None:  # no super(): it loads the file
        self.session = session
        self.reset_states()  # type: ignore[no-untyped-call]
        self.sample_rates = [8000, 16000]


class SharedSileroVAD(SileroVADAnalyzer):
    """`SileroVADAnalyzer` on the process's Silero session."""

    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None) -> None:
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        self._model = _SharedSileroModel(silero_session())
        self._windows_since_reset = 0
        self._low_confidence_windows = 0


class SharedSmartTurn(LocalSmartTurnAnalyzerV3):
    """`LocalSmartTurnAnalyzerV3` (the bundled model, one CPU) on the process's session; with
    `early`, it judges the turn from the user's first short pause on (brains/early_decode.py):
    the prediction Pipecat asks for at the VAD's stop is then the one started at the pause, on
    the same audio but for the silence heard since, when it says the turn is finished."""

    def __init__(self, *, early: bool = False, **kwargs: Any) -> None:
        BaseSmartTurn.__init__(self, **kwargs)
        self._log_data = env_truthy("PIPECAT_SMART_TURN_LOG_DATA", default=False)
        self._session = smart_turn_session()
        self._early_turn: EarlyDecode[Prediction] | None = EarlyDecode("turn") if early else None

    @property
    def early(self) -> EarlyDecode[Prediction] | None:
        return self._early_turn

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        state = super().append_audio(buffer, is_speech)
        if self._early_turn is not None and state == EndOfTurnState.INCOMPLETE:
            self._early_turn.hear(buffer, is_speech, self._predict_so_far)
        return state

    async def analyze_end_of_turn(self) -> Prediction:
        early = self._early_turn.take() if self._early_turn is not None else None
        if early is not None and self._early_turn is not None:
            state, result = await early
            # "Finished" at 0.1 s of silence holds at 0.3 s; "not finished" may not (the model
            # reads the silence too), so that one is asked again on all the audio.
            finished = state == EndOfTurnState.COMPLETE
            self._early_turn.settle(used=finished)
            if finished:
                self._clear(state)
                return state, result
        return await super().analyze_end_of_turn()

    def _predict_so_far(self) -> Awaitable[Prediction]:
        """The turn so far, copied now, judged on the analyzer's own thread."""
        future = self._model_executor.submit(self._process_speech_segment, list(self._audio_buffer))
        return asyncio.wrap_future(future)


def self_check() -> None:
    """Compare the shared analyzers with Pipecat's own: the same attributes, the same results.
    Raises `PipecatMismatch` saying what differs."""
    require_pipecat_version("pipecat_shared_models.py", "analyzers' constructors")
    rate = 16_000
    theirs_vad, ours_vad = SileroVADAnalyzer(sample_rate=rate), SharedSileroVAD(sample_rate=rate)
    for vad in (theirs_vad, ours_vad):
        vad.set_sample_rate(rate)  # what the pipeline's start does
    _same_attributes("SileroVADAnalyzer", theirs_vad, ours_vad)
    _same_attributes("SileroOnnxModel", theirs_vad._model, ours_vad._model)
    for name in ("_process_speech_segment", "_model_executor", "_clear"):
        if not hasattr(BaseSmartTurn, name):
            raise PipecatMismatch(f"BaseSmartTurn.{name} is gone: the early judgement uses it")
    theirs_turn, ours_turn = LocalSmartTurnAnalyzerV3(), SharedSmartTurn(early=True)
    _same_attributes("LocalSmartTurnAnalyzerV3", theirs_turn, ours_turn)

    # A rising tone: the same audio must score the same through either.
    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * (150 + 200 * t) * t) * 8000).astype(np.int16)
    window = theirs_vad.num_frames_required()
    theirs_scores, ours_scores = [], []
    for start in range(0, window * 8, window):
        chunk = tone[start : start + window].tobytes()
        theirs_scores.append(float(np.ravel(theirs_vad.voice_confidence(chunk))[0]))
        ours_scores.append(float(np.ravel(ours_vad.voice_confidence(chunk))[0]))
    # Silero answers 0 when it fails (it logs the error): all zeros would prove nothing.
    if not any(theirs_scores) or not np.allclose(theirs_scores, ours_scores, atol=1e-5):
        raise PipecatMismatch(f"Silero scores: Pipecat's {theirs_scores}, shared {ours_scores}")
    audio = tone.astype(np.float32) / 32768
    theirs_end = theirs_turn._predict_endpoint(audio)
    ours_end = ours_turn._predict_endpoint(audio)
    if not np.isclose(theirs_end["probability"], ours_end["probability"], atol=1e-5):
        raise PipecatMismatch(f"smart-turn differs: Pipecat's {theirs_end}, shared {ours_end}")


def _same_attributes(what: str, theirs: object, ours: object) -> None:
    missing = set(vars(theirs)) ^ (set(vars(ours)) - OWN_ATTRIBUTES)
    if missing:
        raise PipecatMismatch(
            f"{what}'s attributes differ from the shared copy's: {sorted(missing)} "
            f"(Pipecat {pipecat.__version__}); update pipecat_shared_models.py"
        )
