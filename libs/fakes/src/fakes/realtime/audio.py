"""Audio for the fake Realtime server: an energy VAD over PCM16 24 kHz input, and a speech-like
tone for assistant audio (deterministic, non-silent, no subprocess)."""

from __future__ import annotations

import functools
import math
import operator
import sys
from array import array
from dataclasses import dataclass
from typing import Literal

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono: 48 bytes per millisecond


def pcm_rms(pcm: bytes, stride: int = 1) -> float:
    """Root mean square of PCM16 little-endian samples (every `stride`-th sample)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    picked = samples[::stride]
    if not picked:
        return 0.0
    return math.sqrt(sum(map(operator.mul, picked, picked)) / len(picked))


@dataclass(frozen=True)
class VadConfig:
    """Energy VAD: a 20 ms window is voiced when its RMS reaches `rms_threshold` (of 32767).
    `start_ms` of consecutive voiced audio starts speech; the session's
    `turn_detection.silence_duration_ms` of unvoiced audio stops it."""

    rms_threshold: float = 300.0
    window_ms: int = 20
    start_ms: int = 60


@dataclass(frozen=True)
class VadEvent:
    kind: Literal["start", "stop"]
    audio_ms: int  # audio_start_ms (prefix padding included) or audio_end_ms


class EnergyVad:
    """Speech start/stop over the stream of appended audio, timed in audio milliseconds since
    the session started (like the real server's `audio_start_ms`/`audio_end_ms`)."""

    def __init__(self, config: VadConfig) -> None:
        self.config = config
        self._window_bytes = config.window_ms * BYTES_PER_MS
        self._pending = b""
        self._position_ms = 0  # audio time of the start of `_pending`
        self.in_speech = False
        self._voiced_run_ms = 0
        self._voiced_run_start_ms = 0
        self._silence_run_ms = 0
        self._last_voiced_end_ms = 0

    def reset(self) -> None:
        """Forget any speech in progress (`input_audio_buffer.clear`); audio time keeps running."""
        self._position_ms += len(self._pending) // BYTES_PER_MS
        self._pending = b""
        self.in_speech = False
        self._voiced_run_ms = self._silence_run_ms = 0

    def feed(self, pcm: bytes, *, silence_ms: int, prefix_padding_ms: int) -> list[VadEvent]:
        events: list[VadEvent] = []
        data = self._pending + pcm
        window = self._window_bytes
        step = self.config.window_ms
        offset = 0
        while offset + window <= len(data):
            start_ms = self._position_ms
            voiced = pcm_rms(data[offset : offset + window], stride=4) >= self.config.rms_threshold
            offset += window
            self._position_ms += step
            if voiced:
                if self._voiced_run_ms == 0:
                    self._voiced_run_start_ms = start_ms
                self._voiced_run_ms += step
                self._silence_run_ms = 0
                self._last_voiced_end_ms = self._position_ms
                if not self.in_speech and self._voiced_run_ms >= self.config.start_ms:
                    self.in_speech = True
                    begin = max(0, self._voiced_run_start_ms - prefix_padding_ms)
                    events.append(VadEvent("start", begin))
            else:
                self._voiced_run_ms = 0
                if self.in_speech:
                    self._silence_run_ms += step
                    if self._silence_run_ms >= silence_ms:
                        self.in_speech = False
                        self._silence_run_ms = 0
                        events.append(VadEvent("stop", self._last_voiced_end_ms))
        self._pending = data[offset:]
        return events


@functools.cache
def _tone_second() -> bytes:
    """One second of a voice-like sound: a 160 Hz buzz with harmonics, its loudness moving at a
    syllable rate (4 Hz) between 30% and 100%. One second holds whole periods, so it tiles."""
    samples = array("h")
    for n in range(SAMPLE_RATE):
        t = n / SAMPLE_RATE
        buzz = (
            math.sin(2 * math.pi * 160 * t)
            + 0.5 * math.sin(2 * math.pi * 320 * t)
            + 0.25 * math.sin(2 * math.pi * 480 * t)
        ) / 1.75
        envelope = 0.65 - 0.35 * math.cos(2 * math.pi * 4 * t)
        samples.append(int(9000 * buzz * envelope))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


@functools.lru_cache(maxsize=64)
def assistant_audio(duration_ms: int) -> bytes:
    """`duration_ms` of the voice-like tone, PCM16 24 kHz mono."""
    second = _tone_second()
    size = duration_ms * BYTES_PER_MS
    return (second * (size // len(second) + 1))[:size]
