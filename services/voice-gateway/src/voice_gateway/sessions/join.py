"""Another device joining a conversation's live session (`?join=live`).

It joins the session of that conversation (the latest, if there are several), in the session's
own wire format: a listener hears everything and sees every message; a speaker may also talk
when it holds the floor (transport/floor.py), which needs the raw format (the floor listens to
raw PCM). A session held by another gateway process is joined through it, relayed over Redis
(relay.py). A device that cannot join is closed with `JOIN_REFUSED` and the reason; the session
is not touched.
"""

from __future__ import annotations

import structlog
from fastapi import WebSocket
from redis.exceptions import RedisError

from contracts.session import CloseCode, RefusalKind
from voice_gateway.sessions.gateway import Gateway
from voice_gateway.sessions.relay import JoinAsk, RelayClosed, relay_resume
from voice_gateway.sessions.session import VoiceSession
from voice_gateway.transport.admission import Refused
from voice_gateway.transport.resumable_socket import ResumeRefused

log = structlog.get_logger(__name__)


def _refused(reason: str, code: int = CloseCode.JOIN_REFUSED) -> Refused:
    known = code in {c.value for c in CloseCode}
    return Refused(
        reason,
        kind=RefusalKind.JOIN,
        code=CloseCode(code) if known else CloseCode.JOIN_REFUSED,
    )


def check_join(session: VoiceSession, ask: JoinAsk) -> str:
    """The joining device's name, or `ResumeRefused` with why it cannot join."""
    if ask.wire_format != session.wire_format:
        raise ResumeRefused(
            f"the live session speaks the {session.wire_format} format; join with it"
        )
    if ask.speaker and ask.wire_format != "raw":
        raise ResumeRefused("speaking from another device needs the raw format; join as a listener")
    return ask.device or f"device-{len(session.devices) + 1}"


async def join_here(session: VoiceSession, websocket: WebSocket, ask: JoinAsk) -> None:
    """Join `session` (of this process) with `websocket` until the device leaves; raises
    `ResumeRefused`."""
    await session.join(
        websocket, check_join(session, ask), speaker=ask.speaker, device_id=ask.device_id
    )


async def join_session(
    gateway: Gateway, websocket: WebSocket, conversation_id: str, ask: JoinAsk
) -> None:
    """Join this conversation's live session with `websocket`, until the device leaves."""
    live = [s for s in gateway.sessions.values() if s.conversation_id == conversation_id]
    if live:
        try:
            await join_here(live[-1], websocket, ask)
        except ResumeRefused as refused:
            raise _refused(str(refused)) from None
        return
    try:
        elsewhere = [
            s
            for s in await gateway.services.registry.list()
            if s.get("conversation_id") == conversation_id
        ]
    except (RedisError, OSError):
        raise _refused("the session registry is unreachable; try again") from None
    if not elsewhere:
        raise _refused("this conversation has no live session")
    latest = max(elsewhere, key=lambda s: float(s.get("started_at", 0)))
    log.info("join_relayed", session_id=latest["session_id"], owner=latest.get("replica"))
    try:
        await relay_resume(
            gateway.services.redis, websocket, conversation_id, latest["session_id"], join=ask
        )
    except RelayClosed as closed:
        raise _refused(closed.reason, closed.code) from None
