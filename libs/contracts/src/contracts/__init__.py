"""What crosses a process boundary in agentic-voice.

Nothing else is shared between services: events, tool jobs and results, and the names of the
Redis streams, channels and keys they travel on.
"""

from contracts.events import (
    ConversationEvent,
    EventSource,
    EventType,
    new_event_id,
)
from contracts.ids import CONVERSATION_ID_PATTERN, EVENT_ID_PATTERN, ConversationId, EventId
from contracts.tools import ToolErrorKind, ToolJob, ToolName, ToolResult

__all__ = [
    "CONVERSATION_ID_PATTERN",
    "EVENT_ID_PATTERN",
    "ConversationEvent",
    "ConversationId",
    "EventId",
    "EventSource",
    "EventType",
    "ToolErrorKind",
    "ToolJob",
    "ToolName",
    "ToolResult",
    "new_event_id",
]
