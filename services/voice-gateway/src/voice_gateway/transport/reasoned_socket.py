"""The browser's WebSocket as a session's Pipecat transport sees it: closing says why.

Pipecat's transport closes the socket with 1000 when the pipeline ends, whatever ended it. The
browser should learn the real end instead: 1011 after a failure (it reconnects), 1001 when the
gateway shuts down, and the end reason as the close reason. The transport is handed this
wrapper, which answers `close` so and passes everything else to the WebSocket itself.
`mark_gone` tells the transport a dropped connection is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from starlette.websockets import WebSocket, WebSocketState

from contracts.session import CLOSE_CODE_FOR_END, CloseCode


class ReasonedWebSocket:
    def __init__(self, websocket: WebSocket, end_reason: Callable[[], str]) -> None:
        self._websocket = websocket
        self._end_reason = end_reason

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)

    async def close(self, code: int = CloseCode.NORMAL, reason: str | None = None) -> None:
        why = self._end_reason()
        await self._websocket.close(CLOSE_CODE_FOR_END.get(why, code), reason or why)

    def mark_gone(self) -> None:
        """The connection was dropped under the socket (a client that stopped reading): marked
        disconnected, Pipecat's transport stops writing to it and skips its own close."""
        self._websocket.client_state = WebSocketState.DISCONNECTED
        self._websocket.application_state = WebSocketState.DISCONNECTED

    def as_websocket(self) -> WebSocket:
        """This wrapper, typed as what Pipecat's transport asks for (it uses only the
        WebSocket's methods, never its type)."""
        return cast(WebSocket, self)
