import pytest

from voice_gateway.transport.admission import Admission, FrameRateLimiter, Limits, Refused


def test_per_address_and_total_session_limits() -> None:
    admission = Admission(Limits(3, 2, 100))
    admission.admit("a")
    admission.admit("a")
    with pytest.raises(Refused, match="too many open sessions") as refused:
        admission.admit("a")
    assert refused.value.code == 1008
    admission.admit("b")
    with pytest.raises(Refused, match="session limit"):
        admission.admit("c")
    admission.release("a")
    admission.admit("c")
    assert admission.active == 3


def test_new_connections_per_minute() -> None:
    admission = Admission(Limits(100, 100, 3))
    for _ in range(3):
        admission.admit("a")
        admission.release("a")
    with pytest.raises(Refused, match="too many new connections"):
        admission.admit("a")
    admission.admit("b")  # other addresses are unaffected


def test_frame_rate_limiter_allows_bursts_then_the_rate() -> None:
    limiter = FrameRateLimiter(rate=0.001, burst=5)
    assert [limiter.allow() for _ in range(7)] == [True] * 5 + [False] * 2


def test_a_grant_lets_a_resumed_backlog_through_at_once_then_the_rate_holds() -> None:
    limiter = FrameRateLimiter(rate=0.001, burst=5)
    limiter.grant(100)  # a resume: what the client captured while away
    assert sum(limiter.allow() for _ in range(200)) == 105
