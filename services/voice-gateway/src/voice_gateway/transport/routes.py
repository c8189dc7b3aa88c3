"""HTTP and WebSocket routes: thin handlers over sessions, registry and admission."""

from typing import Annotated, Any, Literal

import structlog
from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    WebSocket,
)
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from contracts.ids import CONVERSATION_ID_MAX_LENGTH, CONVERSATION_ID_PATTERN
from contracts.session import CloseCode, EndReason, RefusalKind
from contracts.tickets import TICKET_MAX_LENGTH, TicketGrant, TicketPurpose, TicketRequest
from service_kit.access import (
    REQUIRED_DETAIL,
    SocketRefused,
    check_socket_credentials,
    origin_allowed,
    token_matches,
)
from service_kit.tickets import issue_ticket
from voice_gateway import metrics
from voice_gateway.brains.brain import Persona
from voice_gateway.sessions.gateway import Gateway
from voice_gateway.sessions.join import join_session
from voice_gateway.sessions.relay import JoinAsk
from voice_gateway.sessions.resume import resume_session
from voice_gateway.sessions.session import VoiceSession
from voice_gateway.transport.admission import Refused
from voice_gateway.transport.formats import FORMATS, FormatName

log = structlog.get_logger(__name__)
router = APIRouter()

ConversationId = Annotated[
    str, Path(pattern=CONVERSATION_ID_PATTERN, max_length=CONVERSATION_ID_MAX_LENGTH)
]
SessionId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


def _gateway(app: Any) -> Gateway:
    gateway: Gateway = app.state.gateway
    return gateway


# auto_error=False: a missing header is answered below, with 401 and a detail.
_bearer = HTTPBearer(auto_error=False, description="GATEWAY_TOKEN, when set")


async def _check_http_access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """The sessions API lists clients' addresses and stops sessions: the voice socket's token
    and allowed origins guard it too (another site in the user's browser may not call it)."""
    settings = _gateway(request.app).services.settings
    origin = request.headers.get("origin")
    if not origin_allowed(origin, settings.allowed_origins):
        raise HTTPException(403, f"origin {origin!r} is not allowed")
    given = credentials.credentials if credentials is not None else None
    if not token_matches(settings.token, given):
        raise HTTPException(401, REQUIRED_DETAIL, headers={"WWW-Authenticate": "Bearer"})


async def _check_access(
    gateway: Gateway, websocket: WebSocket, conversation_id: str, ticket: str | None
) -> None:
    settings = gateway.services.settings
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, settings.allowed_origins):
        raise Refused(
            f"origin {origin!r} is not allowed", kind=RefusalKind.ORIGIN, code=CloseCode.POLICY
        )
    try:
        await check_socket_credentials(
            gateway.services.redis,
            settings.token,
            authorization=websocket.headers.get("authorization"),
            query_token=websocket.query_params.get("token"),
            ticket=ticket,
            conversation_id=conversation_id,
            purpose=TicketPurpose.VOICE,
        )
    except SocketRefused as refused:
        raise Refused(refused.reason, kind=refused.kind, code=refused.code) from None
    if gateway.services.brain_problem is not None:
        raise Refused(
            gateway.services.brain_problem,
            kind=RefusalKind.BRAIN_UNAVAILABLE,
            code=CloseCode.BRAIN_UNAVAILABLE,
        )


@router.websocket("/api/realtime/pipecat/ws/{conversation_id}")
async def voice(
    websocket: WebSocket,
    conversation_id: ConversationId,
    voice: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    agent_name: Annotated[str | None, Query(pattern=r"^\w{1,64}$")] = None,
    system_prompt: Annotated[str | None, Query(max_length=4000)] = None,
    # From POST /api/realtime/pipecat/tickets; required when GATEWAY_TOKEN is set, unless the
    # client sends the token in an Authorization header (`?token=` is refused).
    ticket: Annotated[str | None, Query(max_length=TICKET_MAX_LENGTH)] = None,
    wire_format: Annotated[FormatName, Query(alias="format")] = "raw",
    # Carry this session on over this connection; the first frame must be a `resume` request.
    resume: Annotated[str | None, Query(pattern=r"^[0-9a-f]{32}$")] = None,
    # Record this session (1) or not (0); unset: GATEWAY_RECORD_DEFAULT (recordings/).
    record: Annotated[str | None, Query(pattern=r"^[01]$")] = None,
    # Join the conversation's live session from another device (sessions/join.py).
    join: Annotated[Literal["live"] | None, Query()] = None,
    role: Annotated[Literal["speaker", "listener"], Query()] = "speaker",
    # How transcripts name this device: letters, digits, spaces and `_ . ' -`.
    device: Annotated[str | None, Query(pattern=r"^[\w][\w .'-]{0,31}$")] = None,
    # A join's own id, kept by the device (the web client: one per browser): joining again
    # under its name replaces its old connection only with the same id (transport/guests.py).
    device_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{16,64}$")] = None,
) -> None:
    gateway = _gateway(websocket.app)
    settings = gateway.services.settings
    client = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    try:
        gateway.admission.attempt(client)  # first: wrong tokens count against the rate too
        await _check_access(gateway, websocket, conversation_id, ticket)
        if resume is not None:
            await resume_session(gateway, websocket, conversation_id, resume, client)
            return
        if join is not None:
            ask = JoinAsk(
                device=device,
                speaker=role == "speaker",
                wire_format=wire_format,
                device_id=device_id,
            )
            await join_session(gateway, websocket, conversation_id, ask)
            return
        gateway.admission.open_session(client)
    except Refused as refused:
        metrics.SESSIONS_REFUSED.labels(refused.kind).inc()
        log.info("session_refused", client=client, reason=refused.reason)
        await websocket.close(refused.code, refused.reason[:120])
        return
    persona = Persona(
        voice=voice or settings.default_voice,
        agent_name=agent_name or settings.default_agent_name,
        system_prompt=system_prompt or settings.default_system_prompt,
    )
    session = VoiceSession(
        websocket,
        conversation_id,
        persona,
        client,
        gateway.services,
        FORMATS[wire_format],
        device=device or "device-1",
        record=None if record is None else record == "1",
    )
    gateway.add(session)
    try:
        await session.run()
    finally:
        gateway.remove(session)
        gateway.admission.release(client)


@router.post(
    "/api/realtime/pipecat/tickets",
    dependencies=[Depends(_check_http_access)],
    responses={503: {"description": "Redis is unreachable: no ticket can be issued"}},
)
async def new_ticket(request: Request, body: TicketRequest) -> TicketGrant:
    """A ticket for one socket of one conversation (`purpose`: `voice`, this gateway's socket,
    or `events`, the event-store's live stream), to open it with `?ticket=` instead of the
    token. Good once, for GATEWAY_TICKET_TTL_S, on any replica (it lives in Redis)."""
    services = _gateway(request.app).services
    try:
        return await issue_ticket(
            services.redis, body.conversation_id, body.purpose, ttl_s=services.settings.ticket_ttl_s
        )
    except RedisError:
        raise HTTPException(503, "no ticket can be issued now (Redis is unreachable)") from None


@router.get("/api/realtime/pipecat/sessions", dependencies=[Depends(_check_http_access)])
async def list_sessions(request: Request) -> list[dict[str, Any]]:
    """Every live session, on any replica."""
    return await _gateway(request.app).services.registry.list()


@router.post(
    "/api/realtime/pipecat/sessions/{session_id}/stop",
    status_code=202,
    dependencies=[Depends(_check_http_access)],
)
async def stop_session(request: Request, session_id: SessionId) -> dict[str, str]:
    if not await _gateway(request.app).services.registry.request_stop(
        session_id, EndReason.STOPPED
    ):
        raise HTTPException(404, f"no live session {session_id!r}")
    return {"status": "stopping", "session_id": session_id}


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, str] | JSONResponse:
    if not _gateway(request.app).services.dispatcher.ready.is_set():
        return JSONResponse({"status": "not ready", "reason": "redis unavailable"}, 503)
    return {"status": "ready"}


@router.get("/metrics")
async def metrics_endpoint() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
