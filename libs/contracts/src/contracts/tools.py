"""Tool jobs (voice-gateway -> tool-worker) and their results."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import ConversationId, EventId


class ToolName(StrEnum):
    """The five voice tools."""

    SEND_TO_NESTED = "send_to_nested"
    SEND_TO_CLAUDE_CODE = "send_to_claude_code"
    PAUSE = "pause"
    RESET = "reset"
    PAUSE_CLAUDE_CODE = "pause_claude_code"


class ToolErrorKind(StrEnum):
    """Why a tool call failed (`ToolResult.error_kind`, and the metrics' `outcome` label)."""

    BAD_ARGUMENTS = "bad_arguments"  # the model's arguments were unusable (no text, too long)
    UNREACHABLE = "unreachable"  # the agentic backend could not be connected to
    REFUSED = "refused"  # it turned the connection down, or refused the request
    NO_ANSWER = "no_answer"  # it did not acknowledge the request in time
    DISCONNECTED = "disconnected"  # it closed the connection
    TIMEOUT = "timeout"  # the call's deadline passed
    UNAVAILABLE = "unavailable"  # the gateway could not reach the tool-worker (Redis)
    BAD_RESULT = "bad_result"  # the tool-worker's answer was unreadable


class ToolJob(BaseModel):
    """A tool call handed to the tool-worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: EventId
    conversation_id: ConversationId
    name: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)
    deadline_s: float = Field(default=10.0, gt=0, le=300)


class ToolResult(BaseModel):
    """What the tool says back. `message` is spoken to the user (a short sentence, never a URL,
    status code or exception); `detail` is for whoever runs the stack: it goes to the event log
    and the service log, never to the voice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: EventId
    conversation_id: ConversationId
    name: ToolName
    ok: bool
    message: str
    error_kind: ToolErrorKind | None = None
    detail: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def failure(cls, job: ToolJob, kind: ToolErrorKind, spoken: str, detail: str) -> ToolResult:
        """The one way any service builds a failed call's result."""
        return cls(
            call_id=job.call_id,
            conversation_id=job.conversation_id,
            name=job.name,
            ok=False,
            message=spoken,
            error_kind=kind,
            detail=detail,
        )
