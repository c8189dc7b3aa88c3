"""Tool jobs (voice-gateway -> tool-worker) and their results."""

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


class ToolJob(BaseModel):
    """A tool call handed to the tool-worker."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: EventId
    conversation_id: ConversationId
    name: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)
    deadline_s: float = Field(default=10.0, gt=0, le=300)


class ToolResult(BaseModel):
    """What the tool says back; `message` is written to be spoken."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: EventId
    conversation_id: ConversationId
    name: ToolName
    ok: bool
    message: str
    error_kind: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
