"""Noise suppression on the microphone path (GATEWAY_NOISE_FILTER), for either brain.

"rnnoise": Pipecat's `RNNoiseFilter` (its `rnnoise` extra: pyrnnoise, which ships RNNoise's C
library with its trained model built in) as the input transport's `audio_in_filter`. The
transport runs it on every microphone frame before anything else hears it: the VAD, Whisper, the
Realtime API. RNNoise works at 48 kHz only; the filter converts the wire's 24 kHz up and back
with two soxr streams of its own, so it needs no adapter here (checked in
tests/processors/test_noise_suppression.py: same length, same timing, no drift).

What it costs and does (bench/noise.py, docs/benchmarks.md): 30 ms later to the VAD (10 ms held
in its buffers, 20 ms of signal delay), 140-170 ms of CPU per second of audio per session (pyrnnoise
builds RNNoise's plain C kernels), on the event loop, about 3 ms per 20 ms frame. Whisper tiny.en
heard the benchmark's synthetic voices worse through it, in most noises and at most levels: it is
off unless asked for. A filter holds the state of one stream, so each session gets a new one.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Final, Literal

import structlog

if TYPE_CHECKING:
    from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter

    from voice_gateway.settings import Settings

log = structlog.get_logger(__name__)

# soxr's quickest preset, Pipecat's default for this filter: 10 ms held, where "HQ" holds 55 ms
# for the same RNNoise output (measured: the same share of the speech kept).
RESAMPLER_QUALITY: Final[Literal["QQ"]] = "QQ"


def noise_filter(settings: Settings) -> RNNoiseFilter | None:
    """A new filter for one session's microphone audio; None when GATEWAY_NOISE_FILTER=off."""
    _announce(settings.noise_filter)
    if settings.noise_filter == "off":
        return None
    return _rnnoise()(resampler_quality=RESAMPLER_QUALITY)


@functools.cache
def _announce(name: str) -> None:
    """Which filter is on, said once per process (by the first session)."""
    log.info("noise_filter", filter=name)


@functools.cache
def _rnnoise() -> type[RNNoiseFilter]:
    """Pipecat's RNNoise filter, imported on first use: pyrnnoise and the audio libraries it
    loads take 0.6 s and 7 MB, which a gateway with the filter off never pays."""
    # Pipecat's module only logs a missing pyrnnoise, and its filter then passes audio through
    # unchanged: a filter asked for and missing fails the session instead.
    importlib.import_module("pyrnnoise")
    from pipecat.audio.filters.rnnoise_filter import RNNoiseFilter

    return RNNoiseFilter


def noise_problem(settings: Settings) -> str | None:
    """Why the configured filter cannot run (sessions are then refused with it), or None. Loads
    it at start, so the first session does not pay for it."""
    if settings.noise_filter == "off":
        return None
    try:
        _rnnoise()
    except ImportError:
        return (
            "GATEWAY_NOISE_FILTER=rnnoise needs pyrnnoise, which comes with the local brain's"
            " packages (the image built with GATEWAY_EXTRAS=local)"
        )
    _announce(settings.noise_filter)
    return None
