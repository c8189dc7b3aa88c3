"""Live stream of one conversation: the history first, then every event as it is committed."""

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from contracts.tickets import TICKET_MAX_LENGTH, TicketPurpose
from event_store.api.deps import After, ConversationIdPath, WsServicesDep
from service_kit.access import SocketRefused, check_socket_credentials

router = APIRouter(prefix="/api/realtime/conversations", tags=["conversations"])
log = structlog.get_logger(__name__)

# Close code for a reader too slow to keep up; it reconnects with `after` and loses nothing.
CLOSE_TOO_SLOW = 1013


@router.websocket("/{conversation_id}/stream")
async def stream_conversation(
    websocket: WebSocket,
    conversation_id: ConversationIdPath,
    services: WsServicesDep,
    after: After = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    # From the gateway's POST /api/realtime/pipecat/tickets with purpose `events`; required when
    # GATEWAY_TOKEN is set, unless the client sends the token in an Authorization header.
    ticket: Annotated[str | None, Query(max_length=TICKET_MAX_LENGTH)] = None,
) -> None:
    await websocket.accept()  # accepted first, so the client sees why it is closed
    try:
        await check_socket_credentials(
            services.redis,
            services.settings.token,
            authorization=websocket.headers.get("authorization"),
            query_token=websocket.query_params.get("token"),
            ticket=ticket,
            conversation_id=conversation_id,
            purpose=TicketPurpose.EVENTS,
        )
    except SocketRefused as refused:
        log.info("stream_refused", conversation_id=conversation_id, reason=refused.reason)
        await websocket.close(refused.code, refused.reason)
        return
    # Subscribe before reading the history, so nothing committed in between is missed;
    # what appears in both is skipped by id.
    with services.hub.subscribe(conversation_id) as sub:
        history = await services.repo.list_events(conversation_id, after=after, limit=limit)
        await websocket.send_json(
            {"type": "history", "events": [e.model_dump(mode="json") for e in history]}
        )
        last_id = history[-1].id if history else (after or 0)
        receiver = asyncio.create_task(_drain_client(websocket))
        try:
            while True:
                getter = asyncio.create_task(sub.queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    getter.cancel()
                    return
                event = getter.result()
                if event.id <= last_id:
                    continue
                last_id = event.id
                await websocket.send_json({"type": "event", "event": event.model_dump(mode="json")})
                if sub.overflowed and sub.queue.empty():
                    await websocket.close(CLOSE_TOO_SLOW, "reader too slow; reconnect with after")
                    return
        except WebSocketDisconnect:
            return
        finally:
            receiver.cancel()
            if websocket.application_state != WebSocketState.DISCONNECTED:
                await _close_quietly(websocket)


async def _drain_client(websocket: WebSocket) -> None:
    """Returns when the client goes away; anything it sends is ignored."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return


async def _close_quietly(websocket: WebSocket) -> None:
    try:
        await websocket.close()
    except (WebSocketDisconnect, RuntimeError):  # the client had already gone (through nginx)
        log.debug("stream_close_after_disconnect")
