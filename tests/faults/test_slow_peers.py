"""Peers that stall rather than die: an upstream that stops answering mid-conversation, a team
that never answers, a browser that stops reading. Each costs at most its own session or call,
ends within a bounded time with a clear reason, and leaves the rest of the stack serving.

Detection times are printed (run with -s), not asserted.
"""

import asyncio
import json
import time

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import Scenario, Speak
from harness.caller import Caller, utterance
from harness.fault_runs import conversation, until
from harness.fault_stack import MakeStack, scrape
from harness.frozen_client import closed_by_peer, frozen_client

STALL_TIMEOUT_S = 2.0
SEND_TIMEOUT_S = 2.0
QUIET_TIMEOUT_S = 1.5


async def test_an_upstream_that_stalls_mid_conversation_ends_the_session_and_the_client_reconnects(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(
        scenario="stall_mid_conversation",
        gateway_env={"GATEWAY_UPSTREAM_STALL_TIMEOUT_S": str(STALL_TIMEOUT_S)},
    )
    cid = conversation("stall")
    caller = Caller(stack.voice_url(cid), utterance())
    caller.start()
    try:
        # The first turn is answered; the second is committed and never answered.
        await until(lambda: len(caller.connections) >= 2, 60, "the session ends, a reconnect")
        first = caller.connections[0]
        errors = [m for m in first.messages if m["type"] == "error"]
        assert [(e["code"], e["fatal"]) for e in errors] == [("upstream_error", True)]
        assert first.close_code == 1011
        assert first.audio_bytes > 0  # it had answered before it stalled
        # The reconnect gets a working session (a fresh upstream connection).
        await until(lambda: caller.current and caller.current.first_audio_at, 30, "answered")
        assert first.closed_at is not None
        last_audio = max(a for a in caller.answers if a < first.closed_at)
        print(f"\n[stall] session ended {first.closed_at - last_audio:.1f} s after the last answer")
    finally:
        await caller.stop()

    def stopped_reasons() -> list[str]:
        return [
            json.loads(payload)["reason"]
            for kind, payload in stack.stored_events(cid)
            if kind == "session_stopped"
        ]

    reasons = await until(lambda: len(stopped_reasons()) == 2, 30, "both sessions recorded")
    assert reasons
    assert stopped_reasons() == ["upstream_error", "client_closed"]
    stored = [kind for kind, _ in stack.stored_events(cid)]
    assert "error" in stored
    assert scrape(stack.url("voice-gateway"))["gateway_errors_total"] >= 1


async def test_a_browser_that_stops_reading_loses_its_session_and_disturbs_no_other(
    make_stack: MakeStack,
) -> None:
    # The assistant talks for a long time on connecting: far more audio than the socket holds.
    talkative = Scenario("talkative", greeting=Speak("Let me tell you everything.", seconds=30))
    stack = make_stack(
        scenario=talkative,
        gateway_env={
            "GATEWAY_CLIENT_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
            "GATEWAY_CLIENT_SEND_BUFFER_BYTES": "65536",
        },
    )
    gateway = stack.url("voice-gateway")
    other = Caller(stack.voice_url(conversation("reader")), utterance())
    other.start()
    stalled_cid = conversation("stuck")
    sock = await asyncio.to_thread(
        frozen_client, stack.gateway_port, f"/api/realtime/pipecat/ws/{stalled_cid}?format=raw"
    )
    try:
        connected_at = time.monotonic()
        ended_at = await until(
            lambda: (
                scrape(gateway).get("gateway_errors_total", 0) >= 1
                and scrape(gateway).get("gateway_sessions_active") == 1
            ),
            60,
            "the stalled session ended",
        )
        print(f"\n[slow reader] session ended {ended_at - connected_at:.1f} s after connecting")
        # The server dropped the connection (it cannot send a close frame nobody reads).
        assert await asyncio.to_thread(closed_by_peer, sock)
        # The reader's session went on: it is still in it, and still hears the assistant.
        heard = other.audio_bytes
        await until(lambda: other.audio_bytes > heard, 30, "the other session still answered")
        assert other.in_session()
        assert len(other.connections) == 1
    finally:
        sock.close()
        await other.stop()

    def stopped() -> list[str]:
        return [
            json.loads(payload)["reason"]
            for kind, payload in stack.stored_events(stalled_cid)
            if kind == "session_stopped"
        ]

    assert await until(stopped, 30, "the stalled session's stop recorded")
    assert stopped() == ["client_stalled"]


async def test_a_team_that_never_answers_costs_a_plain_failure_and_no_held_socket(
    make_stack: MakeStack, agentic: FakeAgenticBackend
) -> None:
    stack = make_stack(
        scenario="tool_call",
        gateway_env={"GATEWAY_TOOL_DEADLINE_S": "4"},
        worker_env={
            "TOOL_WORKER_CONNECT_TIMEOUT_S": "2",
            "TOOL_WORKER_RUN_QUIET_TIMEOUT_S": str(QUIET_TIMEOUT_S),
        },
    )
    # A team that accepts the socket and never acknowledges the run: the spoken request
    # fails, in plain words, within the call's deadline, and the socket is not kept.
    agentic.scenario = "silent"
    first = Caller(stack.voice_url(conversation("silent")), utterance())
    first.start()
    try:
        await until(lambda: first.messages("function_result"), 30, "the tool call's answer")
    finally:
        await first.stop()
    result = first.messages("function_result")[0]
    assert result["ok"] is False
    assert result["result"] == "The team didn't answer in time."
    await until(lambda: agentic.open_now("MainConversation") == 0, 10, "the silent socket closed")

    # A team that acknowledges the run, then goes quiet for good: the worker gives the run up,
    # closes the socket, and the user hears that it ended.
    agentic.scenario, agentic.step_s = "slow", 30.0
    cid = conversation("quiet")
    second = Caller(stack.voice_url(cid), utterance())
    second.start()
    try:
        await until(lambda: second.messages("function_result"), 30, "the tool call's answer")
        assert second.messages("function_result")[0]["ok"] is True  # handed over
        finished = await until(
            lambda: [m for m in second.messages("progress") if m["finished"]],
            30,
            "the run given up",
        )
        assert finished
        [ended] = [m for m in second.messages("progress") if m["finished"]]
        assert ended["text"].endswith("before the work was finished.")
    finally:
        await second.stop()
    assert agentic.open_now("MainConversation") == 0

    def error_kinds() -> list[str]:
        return [
            json.loads(payload).get("kind")
            for kind, payload in stack.stored_events(cid)
            if kind == "error"
        ]

    await until(lambda: "quiet" in error_kinds(), 30, "the quiet run recorded")
