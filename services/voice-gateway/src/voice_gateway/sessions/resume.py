"""A connection that carries an existing session on (`?resume=<session_id>`): the handshake.

The client's first frame is a `resume` request (contracts.browser.ResumeRequest): the session's
resume key, and how many of its frames the client received. Anything else, a session that is
not here, a key or conversation that does not match, or a count the session never sent, is
refused with `RESUME_REFUSED` and a reason, and the session (if any) is left as it was.
"""

from __future__ import annotations

import asyncio

import structlog
from fastapi import WebSocket
from pydantic import ValidationError

from contracts.browser import ResumeRequest
from contracts.session import CloseCode, RefusalKind
from voice_gateway.sessions.gateway import Gateway
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


async def resume_session(
    gateway: Gateway, websocket: WebSocket, conversation_id: str, session_id: str, client: str
) -> None:
    """Check the request and carry the session on over `websocket`, until it is let go."""
    request = await _request(websocket)
    if request is None:
        return
    session = gateway.sessions.get(session_id)
    if session is None:
        raise _refused(f"no session {session_id} to resume: it ended or expired")
    if session.conversation_id != conversation_id:
        raise _refused("that session belongs to another conversation")
    if not session.resume_key_matches(request.resume_key):
        raise _refused("wrong resume key")
    try:
        await session.resume(websocket, request.received)
    except ResumeRefused as refused:
        raise _refused(str(refused)) from None
    log.info("resume_accepted", session_id=session_id, client=client)
    await session.wait_released(websocket)
