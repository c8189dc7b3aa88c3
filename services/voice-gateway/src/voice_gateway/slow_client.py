"""A browser that stops reading (a frozen tab, a network path gone dead).

Once its socket buffers fill, every send to it waits, for ever: the pipeline's output stalls,
the assistant's audio piles up in memory and even the close handshake never finishes. So every
send gets `timeout_s`; the first one that does not finish in time ends the session
(`client_stalled`) and drops the connection at once. No close frame could reach a client that
does not read, so the connection is aborted (a TCP reset) rather than closed.

The kernel's send buffer is bounded too (`limit_send_buffer`): left to autotuning it grows to
4 MiB, over 40 s of audio held for a client that may never read it, and the stall shows only
once that is full.
"""

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import structlog
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

log = structlog.get_logger(__name__)

SEARCH_DEPTH = 8


class ClientStalled(Exception):
    """The client has not read what was sent to it for too long."""


def guard_slow_client(
    websocket: WebSocket, timeout_s: float, on_stalled: Callable[[], None]
) -> None:
    """Bound every send on `websocket` to `timeout_s`; on the first that overruns, call
    `on_stalled()` once and abort the connection. Later sends fail at once."""
    send = websocket.send
    stalled = False

    async def guarded_send(message: Message) -> None:
        nonlocal stalled
        if stalled:
            raise ClientStalled("the client stopped reading")
        try:
            async with asyncio.timeout(timeout_s):
                await send(message)
        except TimeoutError:
            stalled = True
            _drop(websocket)
            on_stalled()
            raise ClientStalled(f"the client read nothing for {timeout_s:g} s") from None

    websocket.send = guarded_send  # type: ignore[method-assign]


def limit_send_buffer(websocket: WebSocket, nbytes: int) -> None:
    """Cap the kernel's send buffer of this connection at `nbytes` (Linux doubles it)."""
    transport = _transport_of(websocket)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, nbytes)


def _drop(websocket: WebSocket) -> None:
    # Marked disconnected, Pipecat's transport stops writing to it and skips its own close.
    websocket.client_state = WebSocketState.DISCONNECTED
    websocket.application_state = WebSocketState.DISCONNECTED
    transport = _transport_of(websocket)
    if transport is not None:
        transport.abort()
    else:  # the socket stays open until the client goes; the session has ended regardless
        log.warning("client_transport_not_found")


def _transport_of(websocket: WebSocket) -> Any:
    """The server's transport behind the ASGI `send` callable. ASGI offers no way to abort a
    connection, so look for it: uvicorn's protocol object is the owner of the innermost `send`,
    behind the closures of any middleware wrapping it."""
    pending: list[tuple[Any, int]] = [(websocket._send, 0)]
    seen: set[int] = set()
    while pending:
        obj, depth = pending.pop()
        if id(obj) in seen or depth > SEARCH_DEPTH:
            continue
        seen.add(id(obj))
        transport = getattr(getattr(obj, "__self__", None), "transport", None)
        if callable(getattr(transport, "abort", None)):  # asyncio's or uvloop's
            return transport
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                pending.append((cell.cell_contents, depth + 1))
            except ValueError:  # an empty cell
                continue
    return None
