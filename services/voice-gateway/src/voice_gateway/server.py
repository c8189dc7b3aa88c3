"""uvicorn, with sessions ended before the sockets close.

On SIGTERM uvicorn closes every WebSocket (1012) before the app's shutdown runs, so sessions
would end as if the browser had left. This server first ends each session as `shutdown` (the
client hears why, the store records it), waits for them to finish, then lets uvicorn stop.
A second signal stops at once.
"""

import asyncio
import socket
from types import FrameType

import structlog
import uvicorn
from fastapi import FastAPI

from voice_gateway.gateway import Gateway

log = structlog.get_logger(__name__)
DRAIN_S = 10.0


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        gateway: Gateway | None = getattr(self._app.state, "gateway", None)
        if self._draining is not None or self._loop is None or gateway is None:
            super().handle_exit(sig, frame)
            return
        # A signal handler runs between bytecodes of the loop's thread: hand over to the loop.
        self._loop.call_soon_threadsafe(self._start_drain, gateway, sig, frame)

    def _start_drain(self, gateway: Gateway, sig: int, frame: FrameType | None) -> None:
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain(gateway, sig, frame))

    async def _drain(self, gateway: Gateway, sig: int, frame: FrameType | None) -> None:
        log.info("draining", sessions=len(gateway.sessions))
        try:
            await gateway.end_all("shutdown", DRAIN_S)
        finally:
            super().handle_exit(sig, frame)
