"""The benchmark's listeners are heard by the web client's own player (web/dist-replay, built by
`make web-test`), and each turn gets the user's voice and the gateway's figure that belong to it."""

import math

import pytest

from harness.ear_trace import EarTrace
from harness.player_replay import replay

QUANTUM_MS = 128 / 24  # the player's render quantum at 24 kHz


def _answer(at: float, chunks: int) -> list[dict[str, object]]:
    """`chunks` of 40 ms arriving every 40 ms from `at`, then the gateway's speaking:false."""
    audio: list[dict[str, object]] = [
        {"t": at + 40 * k, "type": "chunk", "samples": 960} for k in range(chunks)
    ]
    return [*audio, {"t": at + 40 * chunks, "type": "speaking-ended"}]


def test_each_turn_gets_its_own_voice_and_gateway_figure() -> None:
    trace = EarTrace(
        events=[*_answer(1700, 10), *_answer(5000, 5), *_answer(9000, 5)],
        voiced_ms=[1000.0, 1020.0, 4200.0],  # the user spoke before the first two answers
        voice_latency=[(1690.0, 650.0)],  # the gateway timed only the first
    )
    first, second, third = replay([trace])

    # Two chunks (80 ms) are below the browser's 100 ms jitter buffer (PLAYBACK_DEFAULTS in
    # web/src/audio/player.ts): playing starts with the third chunk, in the first quantum at or
    # after 1780 ms (the 15th after 1700).
    started = 1700 + 15 * QUANTUM_MS
    assert first["mouth_to_ear_ms"] == pytest.approx(started - 1020, abs=0.1)
    assert first["gateway_voice_ms"] == 650.0
    assert (first["played_ms"], first["underruns"], first["buffer_ms"]) == (400.0, 0, 100.0)
    # What the link's share is measured between: the last word sent, the answer's first audio.
    assert (first["voiced_at"], first["first_audio_at"]) == (1020.0, 1700)

    # The player's clock runs on from the first answer: the first quantum at or after 5080 ms
    # (the second answer's third chunk).
    started = 1700 + math.ceil((5080 - 1700) / QUANTUM_MS) * QUANTUM_MS
    assert second["mouth_to_ear_ms"] == pytest.approx(started - 4200, abs=0.1)
    assert second["gateway_voice_ms"] is None  # not the first turn's figure
    assert (second["voiced_at"], second["first_audio_at"]) == (4200.0, 5000)
    assert third["mouth_to_ear_ms"] is None  # nobody spoke since the second answer
    assert (third["voiced_at"], third["first_audio_at"]) == (None, None)
    assert third["played_ms"] == 200.0


def test_a_gap_inside_an_answer_is_an_underrun() -> None:
    events = _answer(0, 5)[:-1] + _answer(400, 5)  # 200 ms of audio, 200 ms of nothing, 200 ms
    [turn] = replay([EarTrace(events=events)])
    assert turn["underruns"] == 1
    assert turn["underrun_ms"] > 100
    # Grown from the 120 ms it started with by the 120 ms it stood empty: held at the 200 ms
    # ceiling.
    assert turn["buffer_ms"] == 200.0
    assert turn["played_ms"] == 400.0
