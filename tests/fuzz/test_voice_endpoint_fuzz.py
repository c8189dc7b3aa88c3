"""Fuzzing the voice endpoint of a real gateway, in both wire formats.

Each example is a fresh session sent a few random frames (audio of any size, odd lengths,
oversized frames, invalid UTF-8 in text frames, invalid JSON, unknown types, wrong field types,
random protobuf). What docs/protocol.md promises must happen: every bad frame earns an `error`
with its documented code and the session goes on (it answers a probe), or the socket is closed
with the documented code. Meanwhile a healthy session opened beforehand keeps answering, the
gateway stays up, and when the fuzzed sessions are gone the live-session gauge is back where
it was.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fuzz.budget import examples
from fuzz.gateway_checks import (
    MAX_FRAME_BYTES,
    HealthySession,
    gateway_ok,
    sessions_active,
    voice_url,
)
from fuzz.voice_socket import WireFormat, exchange, voice_socket
from fuzz.wire_cases import Sent, raw_frames, rtvi_frames
from harness.waiting import wait_until
from stack import ManagedProcess

FUZZ = settings(
    max_examples=examples(300),
    deadline=None,  # each example is a real session over a socket
    # The gateway and the healthy session are shared on purpose: one process takes them all.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STRATEGIES = {"raw": raw_frames, "rtvi": rtvi_frames}


def _check(
    outcome_frames: list[Sent], errors: list[str], close: int | None, answered: bool
) -> None:
    closer = next((s for s in outcome_frames if s.closes is not None), None)
    before = outcome_frames[: outcome_frames.index(closer)] if closer else outcome_frames
    expected = {s.error for s in before if s.error is not None}
    if closer is not None:
        assert close == closer.closes, f"closed with {close}, documented {closer.closes}"
        # The close may overtake errors still queued in the pipeline: none may be unexpected.
        assert set(errors) <= expected, f"errors {errors}, documented {expected}"
    else:
        assert answered, f"the session did not go on (closed with {close}); errors {errors}"
        assert set(errors) == expected, f"errors {errors}, documented {expected}"


@pytest.mark.parametrize("wire_format", ["raw", "rtvi"])
def test_bad_frames_get_documented_answers_and_harm_nobody_else(
    wire_format: WireFormat, fuzz_gateway: ManagedProcess, healthy: HealthySession
) -> None:
    baseline = sessions_active(fuzz_gateway)
    url = voice_url(fuzz_gateway, f"format={wire_format}")
    frames = st.lists(STRATEGIES[wire_format](MAX_FRAME_BYTES), min_size=1, max_size=6)

    @FUZZ
    @given(frames)
    def one_session(sent: list[Sent]) -> None:
        outcome = exchange(url, wire_format, sent)
        for label in [f"error {e}" for e in outcome.errors] or ["no error"]:
            event(label)  # --hypothesis-show-statistics: what the examples reached
        if outcome.close_code is not None:
            event(f"closed {outcome.close_code}")
        _check(sent, outcome.errors, outcome.close_code, outcome.answered)
        assert healthy.answers_ping()
        assert gateway_ok(fuzz_gateway)

    one_session()
    assert gateway_ok(fuzz_gateway)
    wait_until(
        lambda: sessions_active(fuzz_gateway) == baseline,
        what=f"sessions_active back to {baseline}",
    )


@pytest.mark.parametrize(
    ("wire_format", "bad", "code"),
    [
        ("raw", "{not json", "invalid_json"),
        ("raw", b"\x01\x02\x03", "odd_length_audio"),
        ("rtvi", b"\xff\xff\xff\xff", "invalid_protobuf"),
        ("rtvi", "text in a binary format", "not_protobuf"),
    ],
)
def test_a_flood_of_bad_frames_is_throttled_and_survived(
    wire_format: WireFormat,
    bad: str | bytes,
    code: str,
    fuzz_gateway: ManagedProcess,
    healthy: HealthySession,
) -> None:
    """Far more bad frames than the rate limit allows: the flood is answered with a few errors
    (one a second per kind, not one per frame), the excess is dropped as `rate_limited`, and
    the session, the healthy one and the gateway all go on."""
    flood = 600
    with voice_socket(voice_url(fuzz_gateway, f"format={wire_format}"), wire_format) as sock:
        for _ in range(flood):
            assert sock.send(Sent(bad))
        # The bucket refills at 100 frames a second: probes sent while it is empty are dropped
        # like any other frame, so a few may go unanswered before one gets through.
        answered = any(sock.probe(timeout_s=0.5) for _ in range(40))
        assert answered, f"no answer after the flood: {sock.outcome}"
    errors = sock.outcome.errors
    assert {code, "rate_limited"} <= set(errors)
    assert set(errors) <= {code, "rate_limited"}
    assert len(errors) < flood / 20, f"{len(errors)} errors for {flood} frames: not throttled"
    assert healthy.answers_ping()
    assert gateway_ok(fuzz_gateway)


def test_a_flood_of_sessions_leaves_nothing_behind(
    fuzz_gateway: ManagedProcess, healthy: HealthySession
) -> None:
    """Sessions opened and dropped at once, some mid-frame: every one is cleaned up."""
    baseline = sessions_active(fuzz_gateway)
    for n in range(40):
        wire_format: WireFormat = "rtvi" if n % 2 else "raw"
        with voice_socket(voice_url(fuzz_gateway, f"format={wire_format}"), wire_format) as sock:
            if n % 3 == 0:
                sock.send(Sent(b"\x00" * 960))
    assert healthy.answers_ping()
    wait_until(
        lambda: sessions_active(fuzz_gateway) == baseline,
        what=f"sessions_active back to {baseline}",
    )
