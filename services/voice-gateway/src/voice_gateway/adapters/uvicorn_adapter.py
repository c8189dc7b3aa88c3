"""What the gateway needs from uvicorn that ASGI does not offer: every reach into it is here.

1. **Dropping a connection.** A browser that stops reading (a frozen tab, a dead network path)
   makes every send to it wait for ever once its buffers fill. `SendTimeout`, a plain ASGI
   middleware, gives every WebSocket send `timeout_s`; the first that overruns ends the session
   (`client_stalled`) and aborts the connection with a TCP reset, since no close frame could
   reach a client that does not read. ASGI has no "abort": the transport is found on uvicorn's
   protocol object, the owner of the `send` callable it hands to the app.
2. **Ending sessions before uvicorn closes their sockets.** On SIGTERM uvicorn closes every
   WebSocket (1012) before the app's shutdown runs, so sessions would end as if the browser had
   left. `run_before_exit` puts a handler in front of uvicorn's `Server.handle_exit`, runs the
   app's drain, then hands the signal on. A second signal is handed on at once.

Both depend on the exact uvicorn version pinned in pyproject.toml (tests/ops/test_exact_pins.py).
`self_check()` runs when the gateway starts, and in a canary test against a real uvicorn
server (tests/adapters/test_uvicorn_adapter.py), and names what an upgrade changed.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import structlog
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

log = structlog.get_logger(__name__)

UVICORN_VERSION = "0.54.0"
SIGNALS = (signal.SIGTERM, signal.SIGINT)
GUARD_SCOPE_KEY = "agentic_voice.send_guard"


class UvicornMismatch(RuntimeError):
    """The installed uvicorn is not the one this adapter was written against."""


class ClientStalled(Exception):
    """The client has not read what was sent to it for too long."""


@dataclass(slots=True)
class SendGuard:
    """One connection's send timeout. The session sets `on_stalled` to hear about a stall."""

    timeout_s: float
    send: Send
    stalled: bool = False
    on_stalled: Callable[[], None] | None = None

    async def __call__(self, message: Message) -> None:
        if self.stalled:
            raise ClientStalled("the client stopped reading")
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.send(message)
        except TimeoutError:
            self.stalled = True
            _abort(self.send)
            if self.on_stalled is not None:
                self.on_stalled()
            raise ClientStalled(f"the client read nothing for {self.timeout_s:g} s") from None


class SendTimeout:
    """ASGI middleware: every WebSocket send gets `timeout_s`, then the connection is dropped."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        guard = SendGuard(self.timeout_s, send)
        await self.app({**scope, GUARD_SCOPE_KEY: guard}, receive, guard)


def send_guard(websocket: WebSocket) -> SendGuard | None:
    """The guard `SendTimeout` put on this connection (None in an app built without it, and for
    a resume relayed from another process, whose guard is on that process's socket)."""
    scope = getattr(websocket, "scope", None)
    guard = scope.get(GUARD_SCOPE_KEY) if isinstance(scope, dict) else None
    return guard if isinstance(guard, SendGuard) else None


def _transport(send: Send) -> asyncio.BaseTransport | None:
    """The transport of the uvicorn protocol whose bound method `send` is (SendTimeout sits
    outside every other middleware, so `send` is uvicorn's own)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if callable(getattr(transport, "abort", None)) else None


def _abort(send: Send) -> None:
    transport = _transport(send)
    if transport is not None:
        transport.abort()  # type: ignore[attr-defined]
    else:  # the socket stays open until the client goes; the session has ended regardless
        log.warning("client_transport_not_found")


def run_before_exit(first: Callable[[], Awaitable[None]]) -> None:
    """On the first SIGTERM or SIGINT, run `first()` on the running loop, then hand the signal
    to uvicorn. Call it from the app's startup, inside uvicorn's `serve()` (in each worker)."""
    loop = asyncio.get_running_loop()
    uvicorn_handlers = {sig: _uvicorn_exit_handler(sig) for sig in SIGNALS}
    running: list[asyncio.Task[None]] = []

    def hand_over(sig: int, frame: FrameType | None) -> None:
        uvicorn_handlers[signal.Signals(sig)](sig, frame)

    def start(sig: int, frame: FrameType | None) -> None:
        if running:
            return

        async def run_first() -> None:
            await first()

        task = loop.create_task(run_first())
        task.add_done_callback(lambda _: hand_over(sig, frame))
        running.append(task)

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if running:  # the second time: now
            hand_over(sig, frame)
        else:  # a signal handler runs between bytecodes of the loop's thread: hand to the loop
            loop.call_soon_threadsafe(start, sig, frame)

    for sig in SIGNALS:
        signal.signal(sig, on_signal)


def _uvicorn_exit_handler(sig: signal.Signals) -> Callable[[int, FrameType | None], Any]:
    handler = signal.getsignal(sig)
    owner = getattr(handler, "__self__", None)
    if not isinstance(owner, uvicorn.Server) or getattr(handler, "__name__", "") != "handle_exit":
        raise UvicornMismatch(
            f"{sig.name} is not handled by uvicorn.Server.handle_exit while serving "
            f"(found {handler!r}): sessions could not be drained before uvicorn closes them"
        )
    assert callable(handler)
    return handler


def self_check() -> None:
    """Fail loudly if the installed uvicorn is not the one this module reaches into."""
    if uvicorn.__version__ != UVICORN_VERSION:
        raise UvicornMismatch(
            f"uvicorn {uvicorn.__version__} is installed; uvicorn_adapter.py was written "
            f"against {UVICORN_VERSION}: rerun its canary test, test_uvicorn_adapter.py"
        )
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    if not callable(getattr(WebSocketsSansIOProtocol, "send", None)):
        raise UvicornMismatch("uvicorn's WebSocket protocol has no send method to hand the app")
    if "transport" not in WebSocketsSansIOProtocol.__init__.__code__.co_names:
        raise UvicornMismatch("uvicorn's WebSocket protocol keeps no transport attribute")
    if not callable(getattr(uvicorn.Server, "handle_exit", None)):
        raise UvicornMismatch("uvicorn.Server has no handle_exit method")
