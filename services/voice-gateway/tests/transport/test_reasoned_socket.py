from typing import Any, cast

from starlette.websockets import WebSocket

from contracts.session import CloseCode, EndReason
from voice_gateway.transport.reasoned_socket import ReasonedWebSocket


class _Socket:
    """What the wrapper passes through to: records closes, has one other attribute."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, str | None]] = []
        self.client_state = "CONNECTED"

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed.append((code, reason))


async def test_a_close_carries_the_sessions_end() -> None:
    socket, reason = _Socket(), [str(EndReason.UPSTREAM_ERROR)]
    wrapped = ReasonedWebSocket(cast(WebSocket, socket), lambda: reason[0])
    await wrapped.close()  # as Pipecat's transport does, with its default 1000
    reason[0] = EndReason.SHUTDOWN
    await wrapped.close(1000)
    reason[0] = EndReason.IDLE
    await wrapped.close()
    reason[0] = "operator's own words"  # an operator's stop may carry any reason
    await wrapped.close()
    assert socket.closed == [
        (CloseCode.INTERNAL_ERROR, "upstream_error"),
        (CloseCode.GOING_AWAY, "shutdown"),
        (CloseCode.NORMAL, "idle"),
        (CloseCode.NORMAL, "operator's own words"),
    ]


def test_everything_else_is_the_sockets_own() -> None:
    socket = _Socket()
    wrapped: Any = ReasonedWebSocket(cast(WebSocket, socket), lambda: "idle")
    assert wrapped.client_state == "CONNECTED"
    assert wrapped.as_websocket() is wrapped
