"""Pipecat's Whisper service on one model per process, starting early at a short pause.

Why: Pipecat 1.14's `WhisperSTTService` loads its model in its constructor, through its private
`_load()`: every local-brain session would read and hold a Whisper model of its own (seconds of
start-up, tens of MB each). `SharedWhisperSTT` overrides `_load` to take the process's model,
loaded once by `shared_whisper` (CTranslate2 serves concurrent calls). Pipecat has no public seam
for it, so `self_check()` runs when the local brain warms up, and in a canary test
(tests/adapters/test_pipecat_whisper.py), and names what an upgrade changed. It needs the gateway's
`local` extra (faster-whisper), so only the local brain imports it.

It also starts recognition at the first short pause (`brains/early_decode.py`): that reads
the segment Pipecat's `SegmentedSTTService` is building (`_audio_buffer`, `_user_speaking`, set
by its `process_audio_frame`) and answers through `run_stt`, the override point Pipecat's STT
services have. `self_check()` checks those attributes too.

With `enable_eager_end_of_turn` (the LLM path's speculative answers), the early transcript is
also pushed as soon as it is ready, while the user is still quiet, through Pipecat's public
`EagerEndOfTurnSTTServiceMixin`: an `EagerTranscriptionFrame`, withdrawn with an
`EagerEndOfTurnCancelFrame` when the user goes on speaking (`brains/turn_stop.py` acts on both).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.turns.eager_end_of_turn_mixin import EagerEndOfTurnSTTServiceMixin

from voice_gateway.adapters.pipecat_version import require_names, require_pipecat_version
from voice_gateway.brains.early_decode import EarlyDecode
from voice_gateway.brains.whisper_window import WindowedWhisper

COMPUTE_TYPE = "int8"  # the fastest on a CPU, and what the bundled model was measured with
# A user who never pauses: what was said is transcribed every this many seconds (Pipecat's
# segment would otherwise grow for as long as they talk, and be decoded whole at the end).
MAX_SEGMENT_S = 28.0


@functools.cache
def shared_whisper(
    model_dir: str, device: str, windowed: bool = True, beam_size: int = 2
) -> WindowedWhisper:
    """The process's Whisper model, loaded on first use."""
    return WindowedWhisper(_load_model(model_dir, device), windowed=windowed, beam_size=beam_size)


@functools.cache
def _load_model(model_dir: str, device: str) -> Any:
    from faster_whisper import WhisperModel

    return WhisperModel(model_dir, device=device, compute_type=COMPUTE_TYPE)


class SharedWhisperSTT(EagerEndOfTurnSTTServiceMixin, WhisperSTTService):
    """`WhisperSTTService` on an already loaded model, instead of one of its own; with `early`,
    a segment is decoded from its first short pause on, and with `enable_eager_end_of_turn`
    that decode's transcript is offered as an eager end of turn."""

    def __init__(self, model: WindowedWhisper, *, early: bool = True, **kwargs: Any) -> None:
        self._shared_model = model  # before Pipecat's constructor calls `_load`
        super().__init__(**kwargs)
        self._early: EarlyDecode[tuple[bytes, list[Frame]]] | None = (
            EarlyDecode("recognition") if early else None
        )

    def _load(self) -> None:
        self._model = self._shared_model

    @property
    def early(self) -> EarlyDecode[tuple[bytes, list[Frame]]] | None:
        return self._early

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        await super().process_audio_frame(frame, direction)
        if self._user_speaking and len(self._audio_buffer) >= MAX_SEGMENT_S * self.sample_rate * 2:
            # The segment so far is queued as if the VAD had stopped; the user goes on speaking
            # into a new one. The turn's transcripts are joined by the user aggregator.
            await self._handle_user_stopped_speaking(VADUserStoppedSpeakingFrame())
            self._user_speaking = True
            return
        if self._early is not None:
            self._early.hear(frame.audio, self._user_speaking, self._transcribe_so_far)
            if self.eager_end_of_turn_pending and not self._early.waiting:
                # The user went on speaking after the pause the transcript was offered at.
                await self._cancel_eager_end_of_turn()  # type: ignore[no-untyped-call]

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        # The segment is over: its transcript settles any eager end of turn.
        self._clear_eager_end_of_turn()  # type: ignore[no-untyped-call]
        early = self._early.take() if self._early is not None else None
        if early is not None and self._early is not None:
            heard, frames = await early
            # The segment handed over must be what was decoded, followed by silence only.
            matches = audio.startswith(heard)
            self._early.settle(used=matches)
            if matches:
                for frame in frames:
                    yield frame
                return
        async for frame in super().run_stt(audio):
            yield frame

    def _transcribe_so_far(self) -> Coroutine[Any, Any, tuple[bytes, list[Frame]]]:
        """The segment so far, copied now (this frame included), to be decoded."""
        return self._transcribe(bytes(self._audio_buffer))

    async def _transcribe(self, heard: bytes) -> tuple[bytes, list[Frame]]:
        # What Pipecat would hand over if the VAD stopped now: the segment and its padding.
        audio = heard + self._trailing_silence()
        frames = [frame async for frame in WhisperSTTService.run_stt(self, audio)]
        said = [f for f in frames if isinstance(f, TranscriptionFrame)]
        early = self._early
        if said and early is not None and early.waiting_on(asyncio.current_task()):
            # Still quiet since the pause, and the VAD has not ended the segment: offered now.
            text = " ".join(f.text.strip() for f in said).strip()
            await self._push_eager_end_of_turn(
                text, user_id=said[0].user_id, language=said[0].language
            )
        return heard, frames

    async def cleanup(self) -> None:
        if self._early is not None:
            self._early.close()
        await super().cleanup()  # type: ignore[no-untyped-call]


def self_check() -> None:
    """Fail loudly if Pipecat's Whisper service no longer loads through `_load` into `_model`."""
    require_pipecat_version("pipecat_whisper.py", "WhisperSTTService._load and segments")
    loading = "every session would load a Whisper model of its own"
    require_names(WhisperSTTService.__init__, "_load", otherwise=loading)
    require_names(WhisperSTTService._load, "_model", otherwise=loading)
    require_names(WhisperSTTService.run_stt, "_model", otherwise="the shared model goes unused")
    require_names(
        SegmentedSTTService.process_audio_frame,
        "_audio_buffer",
        "_user_speaking",
        otherwise="the early transcript would never match a segment",
    )
    require_names(
        SegmentedSTTService._handle_user_stopped_speaking,
        "_user_speaking",
        "_audio_buffer",
        "_trailing_silence",
        otherwise="a segment is queued or padded in some other way: the early decode is not it",
    )
