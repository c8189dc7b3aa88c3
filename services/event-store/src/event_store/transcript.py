"""Transcript export: a conversation's events as JSON, Markdown or plain text.

JSON carries every event. Markdown and text are for people: they keep what was said and done
(speech on both sides, tool calls and results, team and Claude Code outcomes, session changes,
errors) and leave out the chatter (audio deltas, intermediate protocol messages).
"""

import json
from dataclasses import dataclass
from typing import Any

from contracts.progress import ProgressKind, progress_of
from event_store.models import ConversationSummary, StoredEvent

MAX_LINE_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Line:
    event: StoredEvent
    speaker: str
    text: str


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def _speaker_for_role(role: Any) -> str:
    return "User" if role == "user" else "Assistant"


def _line(event: StoredEvent) -> Line | None:
    p = event.payload
    kind = (event.source, event.type)
    if kind in {("voice", "transcript"), ("voice", "transcription")} and p.get("text"):
        return Line(event, _speaker_for_role(p.get("role")), _short(p["text"]))
    if kind == ("voice", "conversation.item.input_audio_transcription.completed"):
        return Line(event, "User", _short(p.get("transcript", "")))
    if event.source == "voice" and event.type.endswith("audio_transcript.done"):
        return Line(event, "Assistant", _short(p.get("transcript", "")))
    if kind == ("voice", "function_call"):
        return Line(event, "Tool call", f"{p.get('name')}({_short(p.get('arguments', {}))})")
    if kind == ("voice", "function_result"):
        return Line(event, "Tool result", f"{p.get('name')}: {_short(p.get('result', ''))}")
    step = progress_of(event.source, p)
    if step is not None and step.kind is ProgressKind.RESULT:
        return Line(event, "Team" if event.source == "nested_agent" else "Claude Code", step.text)
    if step is not None and step.kind is ProgressKind.ERROR:
        return Line(event, "Error", step.text)
    if event.source == "controller" and event.type in {"session_started", "session_stopped"}:
        reason = p.get("reason")
        text = event.type.replace("_", " ").capitalize() + (f" ({reason})" if reason else "")
        return Line(event, "Session", text)
    if event.type.lower() == "error":
        message = p.get("message") or p
        return Line(event, "Error", _short(message))
    return None


def transcript_lines(events: list[StoredEvent]) -> list[Line]:
    return [line for line in map(_line, events) if line is not None]


def _title(conversation: ConversationSummary) -> str:
    return conversation.name or f"Conversation {conversation.id}"


def to_json(conversation: ConversationSummary, events: list[StoredEvent]) -> dict[str, Any]:
    return {
        **conversation.model_dump(mode="json"),
        "events": [e.model_dump(mode="json") for e in events],
        "transcript": [
            {
                "timestamp": line.event.timestamp.isoformat(),
                "speaker": line.speaker,
                "text": line.text,
            }
            for line in transcript_lines(events)
        ],
    }


def to_markdown(conversation: ConversationSummary, events: list[StoredEvent]) -> str:
    out = [
        f"# {_title(conversation)}",
        "",
        f"- Conversation: `{conversation.id}`",
        f"- Started: {conversation.created_at.isoformat()}",
        f"- Last activity: {conversation.updated_at.isoformat()}",
        f"- Events: {len(events)}",
        "",
    ]
    for line in transcript_lines(events):
        time = line.event.timestamp.strftime("%H:%M:%S")
        out.append(f"**{line.speaker}** ({time}): {line.text}")
        out.append("")
    return "\n".join(out)


def to_text(conversation: ConversationSummary, events: list[StoredEvent]) -> str:
    out = [_title(conversation), f"Conversation {conversation.id}", ""]
    for line in transcript_lines(events):
        out.append(f"[{line.event.timestamp.strftime('%H:%M:%S')}] {line.speaker}: {line.text}")
    return "\n".join(out) + "\n"
