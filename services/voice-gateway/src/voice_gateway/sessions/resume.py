"""A connection that carries an existing session on (`?resume=<session_id>`): the handshake,
wherever the session lives.

The client's first frame is a `resume` request (contracts.browser.ResumeRequest): the session's
resume key, and how many of its frames the client received. Anything else, a session that is
not running, a key or conversation that does not match, or a count the session never sent, is
refused with `RESUME_REFUSED` and a reason, and the session (if any) is left as it was.

A session held by this process is resumed here; one held by another process (a worker or a
replica: the registry says it runs) is resumed through it, relayed over Redis (relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from fastapi import WebSocket
from pydantic import ValidationError
from redis.exceptions import RedisError

from contracts.browser import ResumeRequest
from contracts.keys import session_relay_channel
from contracts.session import CloseCode, RefusalKind
from service_kit.pubsub import Published, follow
from voice_gateway.sessions.gateway import Gateway
from voice_gateway.sessions.join import check_join
from voice_gateway.sessions.relay import (
    RelayClosed,
    RelayedConnection,
    RelayRequest,
    parse_relay_request,
    refuse_relay,
    relay_resume,
)
from voice_gateway.sessions.session import VoiceSession
from voice_gateway.transport.admission import Refused
from voice_gateway.transport.resumable_socket import ResumeRefused

log = structlog.get_logger(__name__)

# The resume request is the client's first frame: it is ready before the socket opens.
REQUEST_TIMEOUT_S = 5.0


def _refused(reason: str) -> Refused:
    return Refused(reason, kind=RefusalKind.RESUME, code=CloseCode.RESUME_REFUSED)


async def _request(websocket: WebSocket) -> ResumeRequest | None:
    """The `resume` request, or None when the client left before sending it."""
    try:
        message = await asyncio.wait_for(websocket.receive(), REQUEST_TIMEOUT_S)
    except TimeoutError:
        raise _refused(f"no resume request within {REQUEST_TIMEOUT_S:.0f} s") from None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        raise _refused("the first frame of a resume must be the JSON resume request")
    try:
        return ResumeRequest.model_validate_json(text)
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        raise _refused(f"bad resume request: {problem}"[:120]) from None


def _check(session: VoiceSession, conversation_id: str, request: ResumeRequest) -> None:
    if session.conversation_id != conversation_id:
        raise ResumeRefused("that session belongs to another conversation")
    if not session.resume_key_matches(request.resume_key):
        raise ResumeRefused("wrong resume key")


async def resume_session(
    gateway: Gateway, websocket: WebSocket, conversation_id: str, session_id: str, client: str
) -> None:
    """Check the request and carry the session on over `websocket`, until it is let go."""
    request = await _request(websocket)
    if request is None:
        return
    session = gateway.sessions.get(session_id)
    if session is not None:
        try:
            _check(session, conversation_id, request)
            await session.resume(websocket, request.received)
        except ResumeRefused as refused:
            raise _refused(str(refused)) from None
        log.info("resume_accepted", session_id=session_id, client=client)
        await session.wait_released(websocket)
        return
    services = gateway.services
    try:
        elsewhere = await services.registry.get(session_id)
    except (RedisError, OSError):
        raise _refused("the session registry is unreachable; try again") from None
    if elsewhere is None:
        raise _refused(f"no session {session_id} to resume: it ended or expired")
    if elsewhere.conversation_id != conversation_id:
        raise _refused("that session belongs to another conversation")
    log.info("resume_relayed", session_id=session_id, owner=elsewhere.replica, client=client)
    try:
        await relay_resume(services.redis, websocket, conversation_id, session_id, request)
    except RelayClosed as closed:
        known = closed.code in {c.value for c in CloseCode}
        code = CloseCode(closed.code) if known else CloseCode.RESUME_REFUSED
        raise Refused(closed.reason, kind=RefusalKind.RESUME, code=code) from None


async def serve_relayed_resumes(gateway: Gateway) -> None:
    """Run for the process's life: carry on this process's sessions over connections that
    reached another process (relayed resumes and joins)."""
    carrying: set[asyncio.Task[None]] = set()

    async def on_request(message: Published) -> None:
        parsed = parse_relay_request(message)
        if parsed is None:
            return
        session_id, ask = parsed
        session = gateway.sessions.get(session_id)
        if session is None:
            return  # another process's session
        task = asyncio.create_task(_carry(gateway, session, ask), name="relayed-resume")
        carrying.add(task)
        task.add_done_callback(carrying.discard)

    await follow(
        gateway.services.redis,
        on_request,
        patterns=[session_relay_channel("*")],
        name="session_relay",
    )


async def _carry(gateway: Gateway, session: VoiceSession, ask: RelayRequest) -> None:
    """One relayed resume (or join) of a session of this process, from the request to its
    end."""
    redis, relay_id = gateway.services.redis, ask.relay_id
    refusal = CloseCode.JOIN_REFUSED if ask.join is not None else CloseCode.RESUME_REFUSED
    connection = RelayedConnection(redis, relay_id)
    try:
        socket = connection.as_websocket()
        try:
            if ask.join is not None:
                name = check_join(session, ask.join)
                await connection.open()
                log.info("join_accepted", session_id=session.id, relay_id=relay_id)
                await session.join(
                    socket, name, speaker=ask.join.speaker, device_id=ask.join.device_id
                )
                return
            if ask.request is None:
                raise ResumeRefused("a relayed request with neither a resume nor a join")
            _check(session, ask.conversation_id, ask.request)
            await connection.open()
            await session.resume(socket, ask.request.received)
        except ResumeRefused as refused:
            await refuse_relay(redis, relay_id, str(refused), refusal)
            return
        log.info("resume_accepted", session_id=session.id, relay_id=relay_id)
        await session.wait_released(socket)
    except (RedisError, OSError) as exc:
        log.warning("relayed_connection_failed", session_id=session.id, error=str(exc))
    except Exception:  # a task of its own: nobody else would hear of it
        log.exception("relayed_connection_failed", session_id=session.id)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await connection.close()
