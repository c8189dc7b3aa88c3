"""A client's audio at its own rate and channel count becomes the pipeline's 24 kHz mono: the
same sound, continuous across frames, and an unsupported layout is refused with its reason."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.browser import ErrorCode
from voice_gateway.transport.audio_in import (
    ACCEPTED_RATES,
    MAX_HELD_MS,
    AudioIn,
    InputConverter,
    UnsupportedAudio,
)

FRAME_MS = 20
HELD = 24 * MAX_HELD_MS  # samples at 24 kHz
TONE_HZ = 440


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (np.sin(2 * np.pi * TONE_HZ * t) * 8000).astype(np.int16)
    return np.repeat(mono[:, None], channels, axis=1).reshape(-1) if channels == 2 else mono


async def _convert(rate: int, channels: int, seconds: float = 1.0) -> np.ndarray:
    converter = InputConverter()
    samples = _tone(rate, seconds, channels)
    step = rate * FRAME_MS // 1000 * channels
    out = b"".join(
        [
            await converter.to_pipeline(AudioIn(samples[i : i + step].tobytes(), rate, channels))
            for i in range(0, len(samples), step)
        ]
    )
    return np.frombuffer(out, dtype=np.int16)


def _dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("rate", ACCEPTED_RATES)
@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
async def test_every_accepted_layout_becomes_the_same_tone_at_24_khz(
    rate: int, channels: int
) -> None:
    out = await _convert(rate, channels)
    # A second in is a second out, but for what the resampler holds back for its next frame.
    assert 24_000 - HELD <= len(out) <= 24_000
    assert abs(_dominant_hz(out, 24_000) - TONE_HZ) <= 2
    rms = float(np.sqrt(np.mean(out[2400:-2400].astype(np.float64) ** 2)))
    assert 8000 / np.sqrt(2) * 0.95 <= rms <= 8000 / np.sqrt(2) * 1.05  # no loss, no clipping


async def test_frames_join_without_clicks() -> None:
    out = (await _convert(16_000, 1)).astype(np.int32)
    # A 440 Hz tone at amplitude 8000 moves at most 2*pi*440*8000/24000 (about 922) per sample;
    # a frame boundary resampled on its own would jump far more.
    assert int(np.max(np.abs(np.diff(out[2400:-2400])))) <= 1000


async def test_a_client_that_changes_rate_starts_a_new_stream() -> None:
    converter = InputConverter()
    first = await converter.to_pipeline(AudioIn(_tone(16_000, 0.5).tobytes(), 16_000, 1))
    second = await converter.to_pipeline(AudioIn(_tone(48_000, 0.5).tobytes(), 48_000, 1))
    assert 24_000 - 2 * HELD <= len(first) // 2 + len(second) // 2 <= 24_000


@pytest.mark.parametrize(
    ("audio", "code", "says"),
    [
        (AudioIn(b"\0\0", 7_000, 1), ErrorCode.UNSUPPORTED_AUDIO, "got 7000 Hz with 1 channels"),
        (AudioIn(b"\0\0", 16_000, 6), ErrorCode.UNSUPPORTED_AUDIO, "with 6 channels"),
        (AudioIn(b"\0\0\0", 16_000, 1), ErrorCode.ODD_LENGTH_AUDIO, "got 3 bytes"),
        (AudioIn(b"\0\0", 48_000, 2), ErrorCode.ODD_LENGTH_AUDIO, "for 2 channel(s)"),
    ],
)
async def test_what_cannot_be_taken_is_refused_with_its_reason(
    audio: AudioIn, code: ErrorCode, says: str
) -> None:
    with pytest.raises(UnsupportedAudio) as refused:
        await InputConverter().to_pipeline(audio)
    assert refused.value.code == code
    assert says in str(refused.value)
