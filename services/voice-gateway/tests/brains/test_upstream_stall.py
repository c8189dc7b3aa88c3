"""When an upstream counts as stalled: silent while it owes an answer, past the timeout."""

import pytest

from voice_gateway.brains import upstream_stall
from voice_gateway.brains.upstream_stall import StallWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(upstream_stall.time, "monotonic", fake)
    return fake


def test_silence_owing_nothing_is_not_a_stall(clock: Clock) -> None:
    watch = StallWatch(5)
    clock.now += 60  # the user says nothing for a minute: the upstream has nothing to say
    assert watch.stalled_for() is None


def test_silence_while_an_answer_is_owed_is_a_stall_after_the_timeout(clock: Clock) -> None:
    watch = StallWatch(5)
    watch.answer_owed()
    clock.now += 4.9
    assert watch.stalled_for() is None
    clock.now += 0.2
    assert watch.stalled_for() == pytest.approx(5.1)


def test_every_event_restarts_the_count_and_the_answer_clears_it(clock: Clock) -> None:
    watch = StallWatch(5)
    watch.answer_owed()
    clock.now += 4
    watch.saw_event()  # a delta: the answer is coming
    clock.now += 4
    assert watch.stalled_for() is None
    watch.answered()
    clock.now += 60
    assert watch.stalled_for() is None


def test_an_old_event_does_not_count_against_a_new_debt(clock: Clock) -> None:
    watch = StallWatch(5)
    watch.saw_event()
    clock.now += 60
    watch.answer_owed()  # counted from now, not from the last event a minute ago
    assert watch.stalled_for() is None
