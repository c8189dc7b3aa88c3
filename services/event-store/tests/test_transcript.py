from datetime import UTC, datetime
from typing import Any

from contracts.events import EventSource
from contracts.progress import PROGRESS_KEY, ProgressKind, RunProgress
from event_store import transcript
from event_store.models import ConversationSummary, StoredEvent

T = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)


def _ev(i: int, source: str, type_: str, payload: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        id=i,
        event_id=f"e{i}",
        conversation_id="c",
        timestamp=T,
        source=source,
        type=type_,
        payload=payload,
    )


def _step(source: EventSource, kind: ProgressKind, text: str) -> dict[str, Any]:
    """What the tool-worker attaches to a team or Claude Code event."""
    return {PROGRESS_KEY: RunProgress.of(source, kind, "", text).model_dump(mode="json")}


EVENTS = [
    _ev(1, "controller", "session_started", {"session_id": "s"}),
    _ev(2, "voice", "transcript", {"role": "user", "text": "Ask the team to fix the build"}),
    _ev(3, "voice", "response.output_audio.delta", {"delta": "AAAA"}),
    _ev(4, "voice", "function_call", {"name": "send_to_nested", "arguments": {"text": "fix"}}),
    _ev(5, "nested_agent", "textmessage", {"data": {"content": "working"}}),
    _ev(
        6,
        "nested_agent",
        "run_finished",
        {
            "summary": "The build is fixed.",
            "outcome": "ok",
            **_step(EventSource.NESTED_AGENT, ProgressKind.RESULT, "The build is fixed."),
        },
    ),
    _ev(7, "voice", "transcript", {"role": "assistant", "text": "Done: the build is fixed."}),
    _ev(
        8,
        "claude_code",
        "Error",
        {"data": {"message": "boom"}, **_step(EventSource.CLAUDE_CODE, ProgressKind.ERROR, "boom")},
    ),
    _ev(9, "controller", "session_stopped", {"reason": "client_closed"}),
]
SUMMARY = ConversationSummary(
    id="c", name="Build", created_at=T, updated_at=T, voice_model=None, metadata={}
)


def test_transcript_keeps_what_people_said_and_did_and_drops_chatter() -> None:
    lines = [(line.speaker, line.text) for line in transcript.transcript_lines(EVENTS)]
    assert lines == [
        ("Session", "Session started"),
        ("User", "Ask the team to fix the build"),
        ("Tool call", 'send_to_nested({"text": "fix"})'),
        ("Team", "The build is fixed."),
        ("Assistant", "Done: the build is fixed."),
        ("Error", "boom"),
        ("Session", "Session stopped (client_closed)"),
    ]


def test_markdown_and_text_exports() -> None:
    markdown = transcript.to_markdown(SUMMARY, EVENTS)
    assert markdown.startswith("# Build\n")
    assert "**User** (09:30:05): Ask the team to fix the build" in markdown
    text = transcript.to_text(SUMMARY, EVENTS)
    assert "[09:30:05] Assistant: Done: the build is fixed." in text.splitlines()


def test_json_export_has_every_event_and_the_transcript() -> None:
    exported = transcript.to_json(SUMMARY, EVENTS)
    assert [e["id"] for e in exported["events"]] == list(range(1, 10))
    assert len(exported["transcript"]) == 7
