"""Test speech: espeak-ng text rendered to 24 kHz mono PCM16 WAV (the gateway's wire format),
cached by text, and small PCM16 helpers. Stdlib only."""

from __future__ import annotations

import asyncio
import hashlib
import math
import operator
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from array import array
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

SAMPLE_RATE = 24_000
SAMPLE_WIDTH = 2
ESPEAK = "/usr/bin/espeak-ng"
SOX = "/usr/bin/sox"
CACHE_DIR = Path(tempfile.gettempdir()) / "agentic-voice-speech"


def speech_wav(
    text: str, path: Path | None = None, *, voice: str = "en-us", words_per_minute: int = 160
) -> Path:
    """A WAV of `text` spoken by espeak-ng, resampled to 24 kHz mono PCM16. Cached in
    CACHE_DIR by text and voice; copied to `path` when given (else the cached file)."""
    key = hashlib.sha256(f"{voice}|{words_per_minute}|{text}".encode()).hexdigest()[:24]
    cached = CACHE_DIR / f"{key}.wav"
    if not cached.exists():
        _render(text, cached, voice, words_per_minute)
    if path is None:
        return cached
    shutil.copyfile(cached, path)
    return path


def _render(text: str, target: Path, voice: str, words_per_minute: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Render next to the target and rename: concurrent test processes never see a partial file.
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        raw, resampled = Path(scratch) / "raw.wav", Path(scratch) / "24k.wav"
        espeak = [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", str(raw), "--", text]
        subprocess.run(espeak, check=True, capture_output=True, timeout=60)
        sox = [SOX, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
        subprocess.run([*sox, str(resampled)], check=True, capture_output=True, timeout=60)
        os.replace(resampled, target)


def read_pcm16(path: Path) -> bytes:
    """The samples of a 24 kHz mono PCM16 WAV (ValueError for any other format)."""
    with wave.open(str(path), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
            raise ValueError(f"{path}: want 24000 Hz mono 16-bit, got {shape}")
        return wav.readframes(wav.getnframes())


def write_wav(path: Path, pcm: bytes) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm)
    return path


def speech_pcm(text: str) -> bytes:
    """`read_pcm16(speech_wav(text))`."""
    return read_pcm16(speech_wav(text))


def samples(pcm: bytes) -> array[int]:
    """PCM16 little-endian bytes as signed ints (a trailing odd byte is dropped)."""
    values = array("h")
    values.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":
        values.byteswap()
    return values


def rms(pcm: bytes) -> float:
    """Root mean square of PCM16 samples, on the 0..32767 scale (0.0 for no samples)."""
    values = samples(pcm)
    if not values:
        return 0.0
    return math.sqrt(sum(map(operator.mul, values, values)) / len(values))


def silence(ms: int) -> bytes:
    return bytes(ms * SAMPLE_RATE // 1000 * SAMPLE_WIDTH)


def duration_ms(pcm: bytes) -> int:
    return len(pcm) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH)


def frames(pcm: bytes, ms: int = 20) -> Iterator[bytes]:
    """`ms`-long frames of `pcm`, the last one padded with silence to full length."""
    size = ms * SAMPLE_RATE // 1000 * SAMPLE_WIDTH
    for start in range(0, len(pcm), size):
        frame = pcm[start : start + size]
        yield frame + bytes(size - len(frame))


async def stream_at_real_time(
    send: Callable[[bytes], Awaitable[None]], pcm: bytes, ms: int = 20
) -> None:
    """Send `pcm` in `ms` frames, paced to the clock as a microphone would deliver them."""
    start = time.monotonic()
    for i, chunk in enumerate(frames(pcm, ms)):
        await send(chunk)
        await asyncio.sleep(max(0.0, start + (i + 1) * ms / 1000 - time.monotonic()))
