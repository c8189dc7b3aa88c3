"""Shapes of stored rows as the API returns them: those of the single-process voice server
this stack replaced, plus `event_id`."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class StoredEvent(BaseModel):
    id: int
    event_id: str
    conversation_id: str
    timestamp: datetime
    source: str
    type: str
    payload: dict[str, Any]


class ConversationSummary(BaseModel):
    id: str
    name: str | None
    created_at: datetime
    updated_at: datetime
    voice_model: str | None
    metadata: dict[str, Any]
    event_count: int = 0


class ConversationDetail(ConversationSummary):
    events: list[StoredEvent]


class DeadLetter(BaseModel):
    stream_id: str
    reason: str
    raw: str


class StoredDeadLetter(DeadLetter):
    id: int
    received_at: datetime


class CleanupResult(BaseModel):
    deleted_count: int
    deleted_ids: list[str]
    inactive_minutes: int
