"""Where the aligner puts each direction's chunks on the recording's timeline, given the times
they arrived (pure: no clock, no I/O). Every chunk is filled with its own sample value, so its
position in the stereo output can be read back exactly."""

import numpy as np
import pytest

from voice_gateway.recordings.aligner import SAMPLE_RATE, SETTLE_S, StereoAligner

MS = SAMPLE_RATE // 1000  # samples per millisecond


def chunk(value: int, ms: int = 20) -> bytes:
    return np.full(ms * MS, value, dtype="<i2").tobytes()


def channels(*parts: tuple[int, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Left and right of the concatenated (offset, stereo) outputs, checked to be contiguous."""
    expected, audio = 0, bytearray()
    for offset, stereo in parts:
        assert offset == expected
        audio += stereo
        expected += len(stereo) // 4
    frames = np.frombuffer(bytes(audio), dtype="<i2").reshape(-1, 2)
    return frames[:, 0], frames[:, 1]


def starts(channel: np.ndarray, value: int) -> float:
    """When (in s) the chunk filled with `value` starts."""
    at = np.flatnonzero(channel == value)
    assert at.size, f"no sample of {value}"
    return float(at[0]) / SAMPLE_RATE


def live_user(aligner: StereoAligner, start_s: float, end_s: float, value: int) -> None:
    """A microphone streaming 20 ms chunks in real time: each arrives when it is complete."""
    t = start_s
    while t < end_s - 1e-9:
        t += 0.02
        aligner.user(round(t, 6), chunk(value))


def test_both_directions_at_their_time_with_silence_between() -> None:
    aligner = StereoAligner()
    live_user(aligner, 0.3, 1.0, 1)  # the microphone opens 300 ms in
    live_user(aligner, 1.0, 1.5, 2)  # the user says something from 1.0 s to 1.5 s
    live_user(aligner, 1.5, 4.0, 1)
    t = 2.0
    for i in range(10):  # the assistant answers from 2 s, 400 ms in 40 ms chunks
        aligner.assistant(t + i * 0.04, chunk(10 + i, ms=40))
    left, right = channels(aligner.take(3.0), aligner.finish(4.0))

    assert len(left) == len(right) == 4 * SAMPLE_RATE
    assert not left[: 300 * MS].any()  # before the microphone opened: silence
    assert starts(left, 1) == pytest.approx(0.3, abs=1 / SAMPLE_RATE)
    assert starts(left, 2) == pytest.approx(1.0, abs=1 / SAMPLE_RATE)
    assert np.count_nonzero(left == 2) == 500 * MS
    assert not right[: 2 * SAMPLE_RATE].any()
    assert [starts(right, 10 + i) for i in range(10)] == pytest.approx(
        [2.0 + i * 0.04 for i in range(10)], abs=1 / SAMPLE_RATE
    )
    assert not right[int(2.4 * SAMPLE_RATE) :].any()  # silent after the answer


def test_an_answer_starts_exactly_when_it_was_written_after_silence() -> None:
    """Between answers the assistant's side is padded up to each round's `now`; an answer
    written shortly after a round still starts at its own time, not where the padding ended."""
    aligner = StereoAligner()
    live_user(aligner, 0.0, 4.0, 1)
    parts = [aligner.take(2.0)]  # the assistant's side: silent up to 2.0 s
    aligner.assistant(2.1, chunk(5, ms=40))
    aligner.assistant(2.14, chunk(6, ms=40))
    aligner.assistant(2.19, chunk(7, ms=40))  # 10 ms late: still right after the one before
    parts.append(aligner.finish(4.0))
    _, right = channels(*parts)
    assert starts(right, 5) == pytest.approx(2.1, abs=1 / SAMPLE_RATE)
    assert starts(right, 6) == pytest.approx(2.14, abs=1 / SAMPLE_RATE)
    assert starts(right, 7) == pytest.approx(2.18, abs=1 / SAMPLE_RATE)


def test_a_paused_user_stream_resumes_at_its_time() -> None:
    """A muted microphone sends nothing: what comes after the pause lands when it was said."""
    aligner = StereoAligner()
    live_user(aligner, 0.0, 1.0, 1)
    live_user(aligner, 3.0, 4.0, 2)
    left, _ = channels(aligner.finish(4.0))
    assert starts(left, 2) == pytest.approx(3.0, abs=1 / SAMPLE_RATE)
    assert not left[SAMPLE_RATE : 3 * SAMPLE_RATE].any()


def test_a_resumed_connection_s_backlog_fills_the_gap_it_was_captured_in() -> None:
    """Connection lost at 2 s, resumed at 10 s: the browser sends the 8 s it captured meanwhile
    at once, then goes on live. The backlog belongs at 2..10 s, not after 10 s."""
    aligner = StereoAligner()
    live_user(aligner, 0.0, 2.0, 1)
    parts = [aligner.take(t) for t in (1.0, 2.0, 4.0, 6.0, 9.0)]  # rounds during the gap
    for i in range(400):  # 8 s of 20 ms chunks, arriving within 50 ms
        aligner.user(10.0 + i * 0.000125, chunk(2 if i < 200 else 3))
    live_user(aligner, 10.05, 12.0, 4)
    parts += [aligner.take(10.5), aligner.take(12.0), aligner.finish(12.0)]
    left, right = channels(*parts)

    assert starts(left, 2) == pytest.approx(2.0, abs=0.001)
    assert starts(left, 3) == pytest.approx(6.0, abs=0.001)
    assert starts(left, 4) == pytest.approx(10.0, abs=0.06)  # the live audio right after it
    assert np.count_nonzero(left == 0) < 0.06 * SAMPLE_RATE  # no gap anywhere
    assert len(left) == len(right)


def test_jitter_is_not_turned_into_gaps() -> None:
    """Network jitter on the user's side and uneven pacing on the assistant's: both stay
    contiguous (no inserted silence), and nothing drifts."""
    rng = np.random.default_rng(3)
    aligner = StereoAligner()
    for i in range(150):  # 3 s of user chunks, each 0..80 ms late (never before it was captured)
        aligner.user(0.02 * (i + 1) + float(rng.uniform(0, 0.08)), chunk(1 + i % 2))
    for i in range(50):  # 2 s of assistant chunks, written 0..30 ms late
        aligner.assistant(0.5 + 0.04 * i + float(rng.uniform(0, 0.03)), chunk(5 + i % 2, ms=40))
    left, right = channels(aligner.finish(3.2))

    voiced_left = np.flatnonzero(left)
    assert voiced_left[-1] - voiced_left[0] + 1 == voiced_left.size == 3 * SAMPLE_RATE
    assert voiced_left[0] / SAMPLE_RATE < 0.1  # the stream begins near 0 (its first arrival)
    voiced_right = np.flatnonzero(right)
    assert voiced_right[-1] - voiced_right[0] + 1 == voiced_right.size == 2 * SAMPLE_RATE
    assert voiced_right[0] / SAMPLE_RATE == pytest.approx(0.5, abs=0.031)


def test_rounds_continue_where_the_last_ended_and_match_a_single_finish() -> None:
    def feed(aligner: StereoAligner) -> None:
        live_user(aligner, 0.1, 5.0, 1)
        for i in range(20):
            aligner.assistant(1.0 + i * 0.04, chunk(7, ms=40))

    once = StereoAligner()
    feed(once)
    whole = channels(once.finish(5.0))
    rounds = StereoAligner()
    feed(rounds)  # the same audio, taken every 0.5 s of a (later) clock
    parts = [rounds.take(t / 2) for t in range(1, 11)] + [rounds.finish(5.0)]
    assert all(len(stereo) % 4 == 0 for _, stereo in parts)
    split = channels(*parts)
    assert np.array_equal(whole[0], split[0])
    assert np.array_equal(whole[1], split[1])


def test_the_user_side_waits_to_settle_and_the_assistant_side_is_padded_to_now() -> None:
    aligner = StereoAligner()
    live_user(aligner, 0.0, 2.0, 1)
    offset, stereo = aligner.take(2.0)
    assert offset == 0
    assert len(stereo) // 4 == pytest.approx((2.0 - SETTLE_S) * SAMPLE_RATE, abs=0.02 * SAMPLE_RATE)


def test_a_user_stream_away_for_good_is_padded_up_to_the_hold() -> None:
    """Nothing from the browser for a minute: the recording still moves on, up to `hold_s`
    behind now (a resume's backlog could still come for that part)."""
    aligner = StereoAligner(hold_s=10.0)
    live_user(aligner, 0.0, 1.0, 1)
    offset, stereo = aligner.take(60.0)
    assert offset == 0
    assert len(stereo) // 4 == 50 * SAMPLE_RATE
    assert aligner.frames == 50 * SAMPLE_RATE


def test_finish_pads_both_sides_to_the_same_end() -> None:
    aligner = StereoAligner()
    aligner.assistant(0.5, chunk(3, ms=1000))  # ends at 1.5 s, after `now`
    live_user(aligner, 0.0, 0.2, 1)
    left, right = channels(aligner.finish(1.0))
    assert len(left) == len(right) == int(1.5 * SAMPLE_RATE)
    assert not left[int(0.2 * SAMPLE_RATE) :].any()
    assert starts(right, 3) == pytest.approx(0.5, abs=1 / SAMPLE_RATE)
