"""Messages from the agentic backend: validated, classified, and summed up for speech.

The two sockets differ (lower-case types on the team socket, CamelCase on Claude Code's), so
types are compared case-insensitively. A run ends only on `taskresult`/`TaskResult`, the
"Agent run finished."/"Agent run interrupted." system messages, or an error: never on the word
TERMINATE, which sub-agents write mid-run.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contracts.events import MAX_PAYLOAD_BYTES, EventSource
from contracts.progress import PROGRESS_KEY, ProgressKind, RunProgress

TYPE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$")
# The backend's messages nest a few levels (a task result's message list); far deeper nesting
# would exhaust the recursion of the JSON and event serializers downstream.
MAX_DEPTH = 32
SPOKEN_MAX_CHARS = 220


class Backend(StrEnum):
    TEAM = "team"
    CLAUDE = "claude_code"

    @property
    def event_source(self) -> EventSource:
        return EventSource.NESTED_AGENT if self is Backend.TEAM else EventSource.CLAUDE_CODE

    @property
    def spoken_name(self) -> str:
        return "team" if self is Backend.TEAM else "Claude Code"

    @property
    def whom(self) -> str:
        """How the assistant names it in a sentence ("I've handed that to the team")."""
        return "the team" if self is Backend.TEAM else "Claude Code"


class Outcome(StrEnum):
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    ERROR = "error"
    DISCONNECTED = "disconnected"


class MalformedMessage(ValueError):
    """A frame from the backend that is not a message of its protocol."""


@dataclass(frozen=True, slots=True)
class BackendMessage:
    type: str
    data: dict[str, Any]
    raw: dict[str, Any]


def parse(frame: str | bytes) -> BackendMessage:
    if isinstance(frame, bytes):
        try:
            frame = frame.decode()
        except UnicodeDecodeError as exc:
            raise MalformedMessage("binary frame that is not UTF-8 text") from exc
    try:
        raw = json.loads(frame)
    except ValueError as exc:
        raise MalformedMessage(f"not JSON: {frame[:80]!r}") from exc
    except RecursionError as exc:  # not a ValueError: it would kill the socket's reader
        raise MalformedMessage(f"nested more than {MAX_DEPTH} levels deep") from exc
    if _depth(raw) > MAX_DEPTH:
        raise MalformedMessage(f"nested more than {MAX_DEPTH} levels deep")
    if not isinstance(raw, dict):
        raise MalformedMessage(f"not a JSON object: {type(raw).__name__}")
    raw = _encodable(raw)
    type_ = raw.get("type")
    if not isinstance(type_, str) or not TYPE_PATTERN.match(type_):
        raise MalformedMessage(f"missing or invalid type: {str(type_)[:80]!r}")
    data = raw.get("data")
    return BackendMessage(type_, data if isinstance(data, dict) else {"value": data}, raw)


def _encodable(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw`, with each lone surrogate (a `\\ud800` escape, valid JSON but not Unicode) made
    "?": the event could not be written as UTF-8 otherwise."""
    text = json.dumps(raw, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        fixed: dict[str, Any] = json.loads(text.encode(errors="replace"))
        return fixed
    return raw


def _depth(value: Any) -> int:
    """How deeply `value` nests (iteratively: it must not recurse itself)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def event_payload(message: BackendMessage) -> dict[str, Any]:
    """The message as the event's payload; a huge one is cut to a preview."""
    text = json.dumps(message.raw)
    if len(text) <= MAX_PAYLOAD_BYTES // 2:
        return message.raw
    return {"type": message.type, "truncated": True, "bytes": len(text), "preview": text[:4096]}


def describe(backend: Backend, message: BackendMessage) -> RunProgress | None:
    """The step of the run this message reports, or None for protocol chatter (acks, the
    user's own words echoed back, a run's start)."""
    data, kind = message.data, message.type.lower()
    source = backend.event_source
    if kind == "error":
        detail = data.get("message") or message.raw.get("message") or "unknown error"
        return RunProgress.of(source, ProgressKind.ERROR, "", detail)
    actor = data.get("source") or ("ClaudeCode" if backend is Backend.CLAUDE else "team")
    if kind == "textmessage" and actor != "user" and data.get("content"):
        return RunProgress.of(source, ProgressKind.SAID, actor, data["content"])
    content = data.get("content")
    if kind == "toolcallrequestevent":
        names = (
            [c.get("name") for c in content if isinstance(c, dict)]
            if isinstance(content, list)
            else [data.get("name")]
        )
        text = "Using tool: " + ", ".join(map(str, names))
        return RunProgress.of(source, ProgressKind.TOOL_CALL, actor, text)
    if kind == "toolcallexecutionevent":
        first = content[0] if isinstance(content, list) and content else None
        result = first.get("content") if isinstance(first, dict) else data.get("result")
        text = f"Tool completed: {' '.join(str(result).split())}"
        return RunProgress.of(source, ProgressKind.TOOL_RESULT, actor, text)
    return None


def with_progress(payload: dict[str, Any], progress: RunProgress | None) -> dict[str, Any]:
    """`payload` carrying `progress` (the event's meaning, for everyone downstream)."""
    if progress is None:
        return payload
    return {**payload, PROGRESS_KEY: progress.model_dump(mode="json")}


def run_outcome(message: BackendMessage) -> Outcome | None:
    """The outcome if this message ends the current run, else None."""
    kind = message.type.lower()
    if kind == "taskresult":
        failed = message.data.get("outcome") == "error"
        return Outcome.ERROR if failed else Outcome.COMPLETED
    if kind == "error":
        return Outcome.ERROR
    if kind == "system":
        text = message.data.get("message")
        if text == "Agent run finished.":
            return Outcome.COMPLETED
        if text == "Agent run interrupted.":
            return Outcome.INTERRUPTED
    return None


def _speakable(text: str) -> str:
    text = " ".join(text.replace("TERMINATE", "").split()).strip()
    if len(text) <= SPOKEN_MAX_CHARS:
        return text
    return text[:SPOKEN_MAX_CHARS].rsplit(" ", 1)[0] + "…"


def _last_agent_text(data: dict[str, Any]) -> str:
    messages = data.get("messages")
    if not isinstance(messages, list):
        return ""
    for item in reversed(messages):
        if not isinstance(item, dict) or item.get("source") == "user":
            continue
        content = item.get("content")
        if isinstance(content, str) and _speakable(content):
            return _speakable(content)
    return ""


def summarize(backend: Backend, message: BackendMessage | None, outcome: Outcome) -> str:
    """A sentence or two the assistant can speak about how a run ended. A failure is said in
    a few plain words: what went wrong (`failure_detail`) goes to the event, not the voice."""
    who = "The team" if backend is Backend.TEAM else "Claude Code"
    if outcome is Outcome.DISCONNECTED:
        return f"I lost the connection to {backend.whom} before the work was finished."
    if outcome is Outcome.INTERRUPTED:
        return f"{who} stopped, as asked."
    if outcome is Outcome.ERROR:
        return f"{who} ran into a problem and stopped."
    data = message.data if message else {}
    if backend is Backend.TEAM and message and message.type.lower() == "taskresult":
        text = _last_agent_text(data)
        return f"{who} finished. {text}" if text else f"{who} finished."
    detail = data.get("message")
    if isinstance(detail, str) and _speakable(detail):
        return f"{who} finished. {_speakable(detail)}"
    return f"{who} finished."


def failure_detail(message: BackendMessage | None) -> str:
    """What the backend said about a failed run, for the event log."""
    detail = message.data.get("message") if message else None
    return detail if isinstance(detail, str) and detail else "no details given"


def _acknowledges(*prefixes: str) -> Callable[[BackendMessage], bool]:
    """A system message starting with one of `prefixes` (or an error) answers our request."""

    def check(message: BackendMessage) -> bool:
        if message.type.lower() == "error":
            return True
        text = message.data.get("message")
        return message.type == "system" and isinstance(text, str) and text.startswith(prefixes)

    return check


RUN_STARTED = "Initiating agent run"
QUEUED = "User message queued for next turn."
NO_ACTIVE_RUN = "No active run to cancel."
TEAM_RUN_ACK = _acknowledges(RUN_STARTED)
TEAM_MESSAGE_ACK = _acknowledges(RUN_STARTED, QUEUED)
TEAM_CANCEL_ACK = _acknowledges("Cancellation requested", NO_ACTIVE_RUN, "Agent run interrupted")
CLAUDE_GREETING = _acknowledges("Claude Code session initialized")
CLAUDE_MESSAGE_ACK = _acknowledges("Sent message to Claude Code")
