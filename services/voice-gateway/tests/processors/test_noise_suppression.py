"""GATEWAY_NOISE_FILTER: which filter a session's transport gets, and what the real RNNoise
filter does to real speech in noise at the wire's rate (24 kHz PCM16, 20 ms frames)."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter
from pydantic import ValidationError

from contracts.browser import SAMPLE_RATE
from harness.speech import speech_pcm
from voice_gateway.processors.noise_suppression import noise_filter
from voice_gateway.settings import Settings

FRAME = SAMPLE_RATE // 50  # samples in a 20 ms frame
SEED = 20_241_105  # the noise: the same samples every run
NOISE_RMS = 800.0  # about 11 dB below the speech (rms 2,900): a noisy room
LEAD_S = 1.5  # noise alone before the speech, and after it
SETTLE_S = 0.5  # RNNoise's noise estimate settles within this


def test_off_gives_no_filter_and_rnnoise_a_new_one_per_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATEWAY_NOISE_FILTER", raising=False)
    assert Settings().noise_filter == "off"
    assert noise_filter(Settings()) is None
    monkeypatch.setenv("GATEWAY_NOISE_FILTER", "rnnoise")
    settings = Settings()
    first, second = noise_filter(settings), noise_filter(settings)
    assert isinstance(first, RNNoiseFilter)
    assert isinstance(second, RNNoiseFilter)
    assert first is not second  # a filter holds one stream's state
    monkeypatch.setenv("GATEWAY_NOISE_FILTER", "speex")
    with pytest.raises(ValidationError):
        Settings()


def _noise(n: int) -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal(n) * NOISE_RMS


async def _filtered(pcm: np.ndarray) -> tuple[np.ndarray, int]:
    """`pcm` through the gateway's filter as the input transport runs it (started at the
    transport's rate, one 20 ms frame at a time); and the most samples it held at once."""
    audio_filter = noise_filter(Settings(noise_filter="rnnoise"))
    assert audio_filter is not None
    await audio_filter.start(SAMPLE_RATE)
    out, sent, received, held = [], 0, 0, 0
    try:
        for start in range(0, len(pcm), FRAME):
            chunk = await audio_filter.filter(pcm[start : start + FRAME].tobytes())
            assert len(chunk) % 2 == 0  # whole PCM16 samples
            out.append(chunk)
            sent, received = sent + min(FRAME, len(pcm) - start), received + len(chunk) // 2
            held = max(held, sent - received)
    finally:
        await audio_filter.stop()  # type: ignore[no-untyped-call]
    return np.frombuffer(b"".join(out), dtype=np.int16).astype(np.float64), held


def _delay(output: np.ndarray, reference: np.ndarray) -> int:
    """Samples by which `output` lags `reference` (the peak of their cross-correlation)."""
    n = len(output) + len(reference)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size)), size)
    return int(np.argmax(corr[: len(output)]))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


async def test_rnnoise_removes_noise_and_keeps_speech_at_24_khz() -> None:
    speech = np.frombuffer(
        speech_pcm("Ask the team to write a haiku about the sea."), dtype=np.int16
    ).astype(np.float64)
    lead = int(LEAD_S * SAMPLE_RATE)
    clean = np.concatenate([np.zeros(lead), speech, np.zeros(lead)])
    noisy = np.clip(clean + _noise(len(clean)), -32768, 32767).astype(np.int16)

    out, held = await _filtered(noisy)

    # (a) 24 kHz PCM16 out, as long as what went in less what it holds (under one frame: 10 ms
    # measured); the speech comes out at the wire's rate: as late at its end as at its start.
    assert 0 <= len(noisy) - len(out) <= held < FRAME
    half = lead + len(speech) // 2
    delay = _delay(out[:half], clean[:half])
    assert delay == _delay(out[half:], clean[half : len(out)])
    assert delay <= 2 * FRAME  # 20 ms measured: RNNoise's own delay

    # (b) the noise alone, once RNNoise has settled: far quieter (x1600 measured).
    quiet = slice(int(SETTLE_S * SAMPLE_RATE), lead)
    assert _rms(noisy[quiet].astype(np.float64)) > 30 * _rms(out[quiet])

    # (c) the speech: most of its energy kept (93 % measured), and closer to the clean waveform
    # than what went in (correlation 0.984 out, 0.962 in).
    talk = slice(lead + delay, lead + delay + len(speech))
    assert _rms(out[talk]) ** 2 > 0.7 * _rms(speech) ** 2
    heard = float(np.corrcoef(out[talk], speech)[0, 1])
    assert heard > float(np.corrcoef(noisy[lead : lead + len(speech)], speech)[0, 1])
    assert heard > 0.95
