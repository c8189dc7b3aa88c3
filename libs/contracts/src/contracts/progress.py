"""What the team or Claude Code is doing, read once from the backend's own message.

The agentic backend speaks two dialects (see the tool-worker's `backend_messages.py`). The
tool-worker reads each message once and attaches a `RunProgress` to the event it publishes, under
`payload["progress"]`. Everyone downstream reads that instead of the backend's raw shapes:

- the voice-gateway puts `line` into the model's context, and sends it to the browser live;
- the browser shows `line` in a tool card, live and when it replays a stored conversation;
- the event-store's transcript export uses `text` for run results and errors.

So a change in the backend's protocol is handled in one place, in one language.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.events import EventSource

PROGRESS_KEY = "progress"
MAX_TEXT_CHARS = 300  # a run's spoken summary (up to about 240 characters) fits whole

# The tag a line starts with says which backend it came from: the model is told to read
# `[TEAM ...]` and `[CODE ...]` lines as context, not as the user talking.
_TAGS = {EventSource.NESTED_AGENT: "TEAM", EventSource.CLAUDE_CODE: "CODE"}


class ProgressKind(StrEnum):
    SAID = "said"  # an agent wrote something
    TOOL_CALL = "tool_call"  # an agent started using one of its tools
    TOOL_RESULT = "tool_result"  # that tool finished
    ERROR = "error"  # something failed; the run may go on
    RESULT = "result"  # the run ended; `text` is the spoken summary


class RunProgress(BaseModel):
    """One step of a team or Claude Code run, as people and the model read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ProgressKind
    actor: str = Field(max_length=64)  # the agent's name ("Coder", "ClaudeCode"), or RESULT/ERROR
    text: str = Field(max_length=MAX_TEXT_CHARS)
    line: str  # "[TEAM Coder] Using tool: write_file": the model's context, the tool card
    finished: bool  # the run ended here: the assistant says how it went

    @classmethod
    def of(cls, source: EventSource, kind: ProgressKind, actor: str, text: Any) -> RunProgress:
        """A step with its text on one line and shortened, and its tagged `line`."""
        short = _one_line(text)
        if kind is ProgressKind.RESULT:
            actor = "RESULT"
        elif kind is ProgressKind.ERROR:
            actor = "ERROR"
        actor = _one_line(actor)[:64] or "agent"
        return cls(
            kind=kind,
            actor=actor,
            text=short,
            line=f"[{_TAGS.get(source, 'TEAM')} {actor}] {short}",
            finished=kind is ProgressKind.RESULT,
        )


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def progress_of(source: str, payload: Mapping[str, Any]) -> RunProgress | None:
    """The step an event (its source and payload) carries, or None: chatter, another source,
    or an unreadable value."""
    if source not in _TAGS:
        return None
    raw = payload.get(PROGRESS_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return RunProgress.model_validate(raw)
    except ValidationError:
        return None
