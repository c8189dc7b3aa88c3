import json

import pytest

from contracts.progress import PROGRESS_KEY, ProgressKind, progress_of
from tool_worker.backend_messages import (
    TEAM_MESSAGE_ACK,
    Backend,
    MalformedMessage,
    Outcome,
    describe,
    event_payload,
    failure_detail,
    parse,
    run_outcome,
    summarize,
    with_progress,
)


def _msg(type_: str, **data: object) -> str:
    return json.dumps({"type": type_, "data": data, "timestamp": "2026-01-01T00:00:00Z"})


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        ("[1, 2]", "not a JSON object"),
        ('{"data": {}}', "missing or invalid type"),
        ('{"type": "../../etc"}', "missing or invalid type"),
        ('{"type": "' + "x" * 100 + '"}', "missing or invalid type"),
        ("[" * 100_000, "nested more than"),  # past the parser's recursion limit
        ('{"type": "t", "data": ' + "[" * 40 + "]" * 40 + "}", "nested more than"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(frame: str | bytes, reason: str) -> None:
    with pytest.raises(MalformedMessage, match=reason):
        parse(frame)


def test_terminate_in_text_does_not_end_a_run() -> None:
    text = parse(_msg("textmessage", source="Planner", content="All done. TERMINATE"))
    assert run_outcome(text) is None


@pytest.mark.parametrize(
    ("frame", "outcome"),
    [
        (_msg("taskresult", messages=[], stop_reason="x"), Outcome.COMPLETED),
        (_msg("TaskResult", outcome="success", message="ok"), Outcome.COMPLETED),
        (_msg("TaskResult", outcome="error", message="boom"), Outcome.ERROR),
        (_msg("system", message="Agent run finished."), Outcome.COMPLETED),
        (_msg("system", message="Agent run interrupted."), Outcome.INTERRUPTED),
        (_msg("error", message="bad"), Outcome.ERROR),
        (_msg("Error", message="stderr", source="claude_stderr"), Outcome.ERROR),
        (_msg("system", message="Cancellation requested."), None),
        (_msg("toolcallrequestevent", content=[{"name": "x"}]), None),
    ],
)
def test_run_end_signals(frame: str, outcome: Outcome | None) -> None:
    assert run_outcome(parse(frame)) == outcome


def test_team_summary_speaks_the_last_agent_message_briefly() -> None:
    result = parse(
        _msg(
            "taskresult",
            messages=[
                {"source": "user", "content": "task"},
                {"source": "Coder", "content": "Wrote it. " + "word " * 100 + "TERMINATE"},
                {"source": "Reviewer", "content": "TERMINATE"},
            ],
        )
    )
    summary = summarize(Backend.TEAM, result, Outcome.COMPLETED)
    assert summary.startswith("The team finished. Wrote it. word")
    assert "TERMINATE" not in summary
    assert len(summary) < 260


def test_claude_and_failure_summaries() -> None:
    done = parse(_msg("TaskResult", outcome="success", message="Edited app.py."))
    assert (
        summarize(Backend.CLAUDE, done, Outcome.COMPLETED) == "Claude Code finished. Edited app.py."
    )
    failed = parse(_msg("error", message="rate limit at https://api.example.com/v1"))
    # Said in plain words; what went wrong is kept for the event log.
    assert (
        summarize(Backend.TEAM, failed, Outcome.ERROR) == "The team ran into a problem and stopped."
    )
    assert failure_detail(failed) == "rate limit at https://api.example.com/v1"
    assert summarize(Backend.TEAM, None, Outcome.DISCONNECTED) == (
        "I lost the connection to the team before the work was finished."
    )


def test_huge_payloads_become_a_preview() -> None:
    huge = parse(_msg("textmessage", content="x" * 300_000))
    payload = event_payload(huge)
    assert payload["truncated"] is True
    assert len(payload["preview"]) == 4096


def test_acknowledgements() -> None:
    assert TEAM_MESSAGE_ACK(parse(_msg("system", message="User message queued for next turn.")))
    assert TEAM_MESSAGE_ACK(parse(_msg("error", message="Unknown command.")))
    assert not TEAM_MESSAGE_ACK(parse(_msg("system", message="Agent run finished.")))


def test_lone_surrogates_become_question_marks() -> None:
    message = parse('{"type": "t", "data": {"text": "a\\ud800b"}}')
    assert message.data == {"text": "a?b"}
    json.dumps(message.raw).encode()  # storable as UTF-8 now


@pytest.mark.parametrize(
    ("backend", "frame", "kind", "line"),
    [
        (Backend.TEAM, _msg("TextMessage", source="Planner", content="Plan:\n step 1"),
         ProgressKind.SAID, "[TEAM Planner] Plan: step 1"),
        (Backend.TEAM, _msg("ToolCallRequestEvent", source="Coder",
                            content=[{"name": "write_file"}, {"name": "run"}]),
         ProgressKind.TOOL_CALL, "[TEAM Coder] Using tool: write_file, run"),
        (Backend.TEAM, _msg("ToolCallExecutionEvent", source="Coder",
                            content=[{"content": "wrote 3 lines"}]),
         ProgressKind.TOOL_RESULT, "[TEAM Coder] Tool completed: wrote 3 lines"),
        (Backend.CLAUDE, _msg("ToolCallRequestEvent", name="Bash"),
         ProgressKind.TOOL_CALL, "[CODE ClaudeCode] Using tool: Bash"),
        (Backend.CLAUDE, _msg("error", message="no such file"),
         ProgressKind.ERROR, "[CODE ERROR] no such file"),
    ],
)  # fmt: skip
def test_each_backend_message_is_described_once_as_a_step(
    backend: Backend, frame: str, kind: ProgressKind, line: str
) -> None:
    step = describe(backend, parse(frame))
    assert step is not None
    assert (step.kind, step.line, step.finished) == (kind, line, False)


@pytest.mark.parametrize(
    "frame",
    [
        _msg("TextMessage", source="user", content="write the notes"),  # the user's own words
        _msg("system", message="Initiating agent run"),
        _msg("ModelClientStreamingChunkEvent", content="Au"),
    ],
)
def test_chatter_is_not_a_step(frame: str) -> None:
    assert describe(Backend.TEAM, parse(frame)) is None


def test_a_step_travels_in_the_payload_and_is_read_back() -> None:
    message = parse(_msg("TextMessage", source="Writer", content="x" * 500))
    payload = with_progress(event_payload(message), describe(Backend.TEAM, message))
    step = progress_of("nested_agent", json.loads(json.dumps(payload)))
    assert step is not None
    assert step.actor == "Writer"
    assert len(step.text) == 300
    assert step.text.endswith("…")
    assert progress_of("voice", payload) is None  # only team and Claude Code events carry steps
    assert progress_of("nested_agent", {PROGRESS_KEY: {"kind": "bogus"}}) is None
