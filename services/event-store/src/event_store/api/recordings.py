"""Recording routes: the gateway starts a recording, sends its audio in chunks and finishes it;
the history page lists a conversation's recordings and plays (or downloads) one."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from event_store.api.deps import ConversationDep, ConversationIdPath
from event_store.api.responses import error, errors
from event_store.api.schemas import Timestamp
from event_store.recordings import audio
from event_store.recordings.models import Recording
from event_store.recordings.store import (
    CHUNK_MAX_BYTES,
    MAX_FRAMES,
    ChunkOverlaps,
    RecordingFinished,
    RecordingNotFound,
    RecordingStillOpen,
    RecordingStore,
    RecordingTooLong,
)

router = APIRouter(prefix="/api/realtime/conversations", tags=["recordings"], responses=errors(401))

RECORDING_ID_PATTERN = r"^[0-9a-f]{32}$"
RecordingIdPath = Annotated[
    str, Path(pattern=RECORDING_ID_PATTERN, description="32 hex digits, as `POST` returned it")
]
_NOT_FOUND = error(404, "No such conversation, or no such recording in it")


def _recordings(request: Request) -> RecordingStore:
    store: RecordingStore = request.app.state.recordings
    return store


RecordingsDep = Annotated[RecordingStore, Depends(_recordings)]


def _in_utc(value: datetime) -> datetime:
    """In UTC; a date too far out to convert (year 1 at +14:00) is the nearest one that is."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year < 5000 else datetime.max).replace(tzinfo=UTC)


class RecordingStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, Field(pattern=RECORDING_ID_PATTERN)] | None = Field(
        default=None, description="The gateway's voice session"
    )
    started_at: Annotated[Timestamp, AfterValidator(_in_utc)] | None = Field(
        default=None,
        description="When the recording's first sample was due, on the clock of the events' "
        "timestamps (the gateway's); now if absent",
    )


def _not_found(exc: RecordingNotFound) -> HTTPException:
    return HTTPException(404, f"no recording {str(exc)!r} in this conversation")


@router.post("/{conversation_id}/recordings", status_code=201, responses=errors(400, 413, 507))
async def start_recording(
    conversation_id: ConversationIdPath, body: RecordingStart, recordings: RecordingsDep
) -> Recording:
    """Start a recording (the gateway, when a session starts with recording on). The
    conversation is created if it does not exist yet, as an event for it would."""
    return await recordings.start(
        conversation_id, session_id=body.session_id, started_at=body.started_at
    )


@router.get("/{conversation_id}/recordings", responses=errors(404))
async def list_recordings(
    conversation: ConversationDep, recordings: RecordingsDep
) -> list[Recording]:
    """The conversation's recordings, oldest first (one per recorded session)."""
    return await recordings.in_conversation(conversation.id)


@router.post(
    "/{conversation_id}/recordings/{recording_id}/chunks",
    status_code=204,
    response_class=Response,
    responses={
        **error(400, "The body is not whole stereo PCM16 frames (a multiple of 4 bytes)"),
        **_NOT_FOUND,
        **error(409, "The recording is finished, or already holds audio past `offset`"),
        **error(413, f"The body is over {CHUNK_MAX_BYTES} bytes (5 s), or the recording over 6 h"),
        **errors(507),
    },
    # The body is described in words, not as a `requestBody` schema: JSON Schema cannot say
    # "whole 4-byte frames", so a declared binary body makes schema-valid requests that this
    # route refuses (schemathesis, tests/fuzz, flags exactly that).
)
async def append_chunk(
    conversation_id: ConversationIdPath,
    recording_id: RecordingIdPath,
    request: Request,
    recordings: RecordingsDep,
    offset: Annotated[
        int,
        Query(ge=0, le=MAX_FRAMES, description="Where the chunk starts, in frames (1/24000 s)"),
    ],
) -> Response:
    """Audio of a recording in progress, at `offset` frames from its start. A gap before
    `offset` (a chunk the gateway could not send) stays silent; nothing shifts.

    The body (`Content-Type: application/octet-stream`): interleaved stereo PCM16 little-endian
    at 24 kHz, left the user and right the assistant; whole frames (a multiple of 4 bytes), at
    most 5 s (480000 bytes). An empty body stores nothing."""
    data = await request.body()
    if len(data) > CHUNK_MAX_BYTES:
        raise HTTPException(413, f"a chunk holds at most {CHUNK_MAX_BYTES} bytes")
    if len(data) % audio.FRAME_BYTES:
        raise HTTPException(
            400, f"a chunk is whole stereo PCM16 frames (4 bytes each); got {len(data)} bytes"
        )
    try:
        await recordings.append(conversation_id, recording_id, offset, data)
    except RecordingNotFound as exc:
        raise _not_found(exc) from None
    except (RecordingFinished, ChunkOverlaps) as exc:
        raise HTTPException(409, str(exc)) from None
    except RecordingTooLong as exc:
        raise HTTPException(413, str(exc)) from None
    return Response(status_code=204)


@router.post(
    "/{conversation_id}/recordings/{recording_id}/finish",
    responses={**_NOT_FOUND, **error(409, "The recording is already finished"), **errors(507)},
)
async def finish_recording(
    conversation_id: ConversationIdPath, recording_id: RecordingIdPath, recordings: RecordingsDep
) -> Recording:
    """End a recording: its audio is encoded to FLAC, and retention applies."""
    try:
        return await recordings.finish(conversation_id, recording_id)
    except RecordingNotFound as exc:
        raise _not_found(exc) from None
    except RecordingFinished as exc:
        raise HTTPException(409, str(exc)) from None


_AUDIO = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/{conversation_id}/recordings/{recording_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {audio.MEDIA_TYPE: _AUDIO}, "description": "The FLAC file"},
        206: {"content": {audio.MEDIA_TYPE: _AUDIO}, "description": "The `Range` asked for"},
        416: {"content": {"text/plain": {}}, "description": "The `Range` is past the end"},
        **_NOT_FOUND,
        **error(409, "The recording is still in progress: no audio yet"),
    },
)
async def recording_audio(
    conversation_id: ConversationIdPath, recording_id: RecordingIdPath, recordings: RecordingsDep
) -> FileResponse:
    """A finished recording's audio (stereo FLAC: left the user, right the assistant), with
    `Range` requests for seeking; also its export (`Content-Disposition` names the file)."""
    try:
        _, path = await recordings.playable(conversation_id, recording_id)
    except RecordingNotFound as exc:
        raise _not_found(exc) from None
    except RecordingStillOpen as exc:
        raise HTTPException(409, str(exc)) from None
    return FileResponse(
        path,
        media_type=audio.MEDIA_TYPE,
        filename=f"recording-{conversation_id}-{recording_id}.{audio.FORMAT}",
    )
