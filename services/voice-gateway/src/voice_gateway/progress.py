"""Team and Claude Code progress, as the browser shows it and as the model hears it.

Tagged lines, as the single-process voice server used them: the model gets short
`[TEAM ...]`/`[CODE ...]` lines in its context, and is asked for a spoken summary only when a
run ends; the browser sees everything.
"""

from dataclasses import dataclass
from typing import Any

from contracts import ConversationEvent

MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class ProgressLine:
    text: str  # the tagged line for the model's context
    finished: bool  # a run ended: ask the model for a spoken summary


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def progress_line(event: ConversationEvent) -> ProgressLine | None:
    data = event.payload.get("data") if isinstance(event.payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    tag = "TEAM" if event.source == "nested_agent" else "CODE"
    kind = event.type.lower()
    if event.source not in ("nested_agent", "claude_code"):
        return None
    if kind == "run_finished":
        return ProgressLine(f"[{tag} RESULT] {_short(event.payload.get('summary', ''))}", True)
    if kind == "error":
        message = data.get("message") or event.payload.get("message") or "unknown error"
        return ProgressLine(f"[{tag} ERROR] {_short(message)}", False)
    source = data.get("source") or ("ClaudeCode" if tag == "CODE" else "team")
    if kind == "textmessage" and source != "user" and data.get("content"):
        return ProgressLine(f"[{tag} {source}] {_short(data['content'])}", False)
    if kind == "toolcallrequestevent":
        content = data.get("content")
        names = (
            [c.get("name") for c in content if isinstance(c, dict)]
            if isinstance(content, list)
            else [data.get("name")]
        )
        return ProgressLine(f"[{tag} {source}] Using tool: {', '.join(map(str, names))}", False)
    if kind == "toolcallexecutionevent":
        content = data.get("content")
        result = (
            content[0].get("content")
            if isinstance(content, list) and content and isinstance(content[0], dict)
            else data.get("result")
        )
        return ProgressLine(f"[{tag} {source}] Tool completed: {_short(result)}", False)
    return None


SUMMARY_REQUEST = (
    "{line} The run has ended. Tell the user, in one or two short spoken sentences, what happened."
)
