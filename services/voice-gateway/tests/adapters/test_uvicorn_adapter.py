"""Canary: a real uvicorn server, as the gateway runs it, still gives uvicorn_adapter.py what it
reaches for. Fails on a uvicorn upgrade that moves the transport, the signal handling or the
send buffer's inheritance."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from harness.waiting import async_wait_until
from voice_gateway.adapters import uvicorn_adapter
from voice_gateway.adapters.uvicorn_adapter import (
    ClientStalled,
    SendTimeout,
    UvicornMismatch,
    run_before_exit,
    self_check,
    send_guard,
)
from voice_gateway.server import listening_socket

SEND_BUFFER = 16 * 1024


class Probe:
    """What the app saw, for the test to check."""

    def __init__(self) -> None:
        self.drained = asyncio.Event()
        self.stalled = asyncio.Event()
        self.send_buffer: int | None = None
        self.ended_with: BaseException | None = None


def _app(probe: Probe) -> SendTimeout:
    async def flood(websocket: WebSocket) -> None:
        await websocket.accept()
        guard = send_guard(websocket)
        assert guard is not None
        guard.on_stalled = probe.stalled.set
        sock = guard.send.__self__.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        probe.send_buffer = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        try:
            while True:  # the client never reads: the buffers fill, then a send overruns
                await websocket.send_bytes(b"\0" * 65536)
        except ClientStalled as exc:
            probe.ended_with = exc

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async def drain() -> None:
            probe.drained.set()

        run_before_exit(drain)
        yield

    return SendTimeout(Starlette(routes=[WebSocketRoute("/ws", flood)], lifespan=lifespan), 0.5)


@pytest.fixture
def harmless_sigterm() -> Iterator[list[int]]:
    """uvicorn re-raises the signal it stopped on once it has stopped: caught here, not fatal."""
    caught: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda sig, _: caught.append(sig))
    yield caught
    signal.signal(signal.SIGTERM, before)


async def test_a_real_uvicorn_server_gives_the_adapter_what_it_needs(
    harmless_sigterm: list[int],
) -> None:
    probe = Probe()
    config = uvicorn.Config(
        _app(probe), host="127.0.0.1", port=0, log_config=None, ws="websockets-sansio"
    )
    sock = listening_socket(config, SEND_BUFFER)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    await async_wait_until(_started(server), what="uvicorn listening")
    port = sock.getsockname()[1]

    # A client that stops reading is dropped once a send overruns its time.
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_queue=1) as client:
        await asyncio.wait_for(probe.stalled.wait(), 30)
        with pytest.raises(websockets.ConnectionClosed):
            await _read_until_closed(client)
    assert isinstance(probe.ended_with, ClientStalled)
    # Accepted connections inherit the listening socket's send buffer (Linux doubles it).
    assert probe.send_buffer == 2 * SEND_BUFFER

    # SIGTERM: the app's drain runs first, then uvicorn stops.
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(probe.drained.wait(), 10)
    await asyncio.wait_for(serving, 10)
    assert harmless_sigterm == [signal.SIGTERM]


def test_the_installed_uvicorn_is_the_one_the_adapter_was_written_for() -> None:
    self_check()


def test_another_uvicorn_version_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn_adapter, "UVICORN_VERSION", "0.0.1")
    with pytest.raises(UvicornMismatch, match=r"0\.0\.1"):
        self_check()


async def test_signals_not_held_by_uvicorn_are_refused_by_name() -> None:
    async def drain() -> None:
        pass

    with pytest.raises(UvicornMismatch, match="SIGTERM is not handled by uvicorn"):
        run_before_exit(drain)


async def _read_until_closed(client: websockets.ClientConnection) -> None:
    while True:
        await asyncio.wait_for(client.recv(), 30)


def _started(server: uvicorn.Server) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return server.started

    return probe
