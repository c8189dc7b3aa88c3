"""A WebSocket client that stops reading: a frozen tab, or a phone whose network path died
without a reset. The server's sends to it back up until its send timeout gives up."""

from __future__ import annotations

import base64
import os
import socket


def frozen_client(port: int, path: str, rcvbuf: int = 4096) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again, with a
    small receive buffer so the gateway's sends back up quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: not one byte of the stream past the headers
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """Read what is left; True once the server has closed or reset the connection."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True
