"""The conversation routes of the single-process voice server this stack replaced, plus
filtering, paging and transcript export."""

from enum import StrEnum
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse

from contracts import ConversationEvent
from contracts.events import SourceName, TypeName
from event_store import transcript
from event_store.api.deps import After, ConversationDep, ConversationIdPath, RepoDep, ServicesDep
from event_store.api.recordings import RecordingsDep
from event_store.api.responses import errors, text_content
from event_store.api.schemas import ConversationCreate, ConversationUpdate, EventAppend
from event_store.models import (
    CleanupResult,
    ConversationDetail,
    ConversationSummary,
    StoredDeadLetter,
    StoredEvent,
)
from event_store.repository import Repository, stored_event

log = structlog.get_logger(__name__)
router = APIRouter(
    prefix="/api/realtime/conversations", tags=["conversations"], responses=errors(401)
)
admin_router = APIRouter(prefix="/api/event-store", tags=["operations"], responses=errors(401))

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (at most 1000)")]


class ExportFormat(StrEnum):
    JSON = "json"
    MARKDOWN = "markdown"
    TEXT = "text"


@router.post("", status_code=201, responses=errors(400, 409, 413, 507))
async def create_conversation(body: ConversationCreate, repo: RepoDep) -> ConversationSummary:
    created = await repo.create_conversation(
        conversation_id=body.id,
        name=body.name,
        voice_model=body.voice_model,
        metadata=body.metadata,
    )
    if created is None:
        raise HTTPException(409, f"conversation {body.id!r} already exists")
    log.info("conversation_created", conversation_id=created.id)
    return created


@router.get("")
async def list_conversations(
    repo: RepoDep, limit: Limit = 100, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
) -> list[ConversationSummary]:
    """Summaries, most recently active first."""
    return await repo.list_conversations(limit=limit, offset=offset)


@router.post("/cleanup")
async def cleanup_inactive(
    repo: RepoDep,
    recordings: RecordingsDep,
    inactive_minutes: Annotated[int, Query(ge=1, le=525_600)] = 30,
) -> CleanupResult:
    """Delete conversations with no activity for `inactive_minutes` (and their recordings)."""
    deleted = await repo.delete_inactive(inactive_minutes)
    await recordings.conversations_deleted(deleted)  # the files, once the rows are gone
    log.info("conversations_cleaned_up", deleted=len(deleted), inactive_minutes=inactive_minutes)
    return CleanupResult(
        deleted_count=len(deleted), deleted_ids=deleted, inactive_minutes=inactive_minutes
    )


@router.get("/{conversation_id}", responses=errors(404))
async def get_conversation(
    conversation: ConversationDep, repo: RepoDep, limit: Limit = 500, after: After = None
) -> ConversationDetail:
    events = await repo.list_events(conversation.id, after=after, limit=limit)
    return ConversationDetail(**conversation.model_dump(), events=events)


@router.put("/{conversation_id}", responses=errors(400, 404, 413, 507))
async def update_conversation(
    conversation_id: ConversationIdPath, body: ConversationUpdate, repo: RepoDep
) -> ConversationSummary:
    updated = await repo.update_conversation(
        conversation_id, name=body.name, metadata=body.metadata
    )
    if updated is None:
        raise HTTPException(404, f"conversation {conversation_id!r} not found")
    return updated


@router.delete("/{conversation_id}", status_code=204, responses=errors(404, 507))
async def delete_conversation(
    conversation_id: ConversationIdPath, repo: RepoDep, recordings: RecordingsDep
) -> Response:
    if not await repo.delete_conversation(conversation_id):
        raise HTTPException(404, f"conversation {conversation_id!r} not found")
    await recordings.conversations_deleted([conversation_id])  # the files, once the rows are gone
    log.info("conversation_deleted", conversation_id=conversation_id)
    return Response(status_code=204)


@router.get("/{conversation_id}/events", responses=errors(404))
async def list_events(
    conversation: ConversationDep,
    repo: RepoDep,
    limit: Limit = 500,
    after: After = None,
    source: Annotated[SourceName | None, Query()] = None,
    type: Annotated[TypeName | None, Query()] = None,
) -> list[StoredEvent]:
    return await repo.list_events(
        conversation.id, after=after, limit=limit, source=source, type_=type
    )


@router.post(
    "/{conversation_id}/events", status_code=201, responses=errors(400, 404, 409, 413, 507)
)
async def append_event(
    conversation: ConversationDep, body: EventAppend, services: ServicesDep
) -> StoredEvent:
    fields: dict[str, Any] = body.model_dump(exclude_none=True)
    event = ConversationEvent(conversation_id=conversation.id, **fields)
    outcome = await services.writer.write([event])
    if not outcome.inserted:
        raise HTTPException(409, f"event {event.id!r} is already stored")
    return stored_event(*outcome.inserted[0])


async def _all_events(repo: Repository, conversation_id: str, page: int) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    while True:
        batch = await repo.list_events(
            conversation_id, after=events[-1].id if events else None, limit=page
        )
        events.extend(batch)
        if len(batch) < page:
            return events


@router.get(
    "/{conversation_id}/export",
    response_model=None,
    responses={200: text_content("text/markdown", "text/plain", json=True), **errors(404)},
)
async def export_conversation(
    conversation: ConversationDep,
    services: ServicesDep,
    format: ExportFormat = ExportFormat.JSON,
) -> dict[str, Any] | PlainTextResponse:
    """The whole conversation: JSON (every event plus the transcript), Markdown or plain text."""
    events = await _all_events(services.repo, conversation.id, services.settings.page_max)
    disposition = f'attachment; filename="conversation-{conversation.id}'
    if format is ExportFormat.MARKDOWN:
        return PlainTextResponse(
            transcript.to_markdown(conversation, events),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": disposition + '.md"'},
        )
    if format is ExportFormat.TEXT:
        return PlainTextResponse(
            transcript.to_text(conversation, events),
            headers={"Content-Disposition": disposition + '.txt"'},
        )
    return transcript.to_json(conversation, events)


@admin_router.get("/dead-letters")
async def list_dead_letters(
    repo: RepoDep, limit: Limit = 100, after: After = None
) -> list[StoredDeadLetter]:
    """Stream entries that could not be parsed, kept with the reason and the raw entry."""
    return await repo.list_dead_letters(limit=limit, after=after)
