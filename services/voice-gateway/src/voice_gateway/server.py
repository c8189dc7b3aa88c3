"""Serving the app: uvicorn in one process or several, on a socket made for voice.

Several worker processes share the port (GATEWAY_WORKERS): the gateway is one event loop per
process, and Pipecat's per-frame work fills a core at a few dozen sessions. Sessions are listed
and stopped through Redis, so they are found whichever process holds them; the per-address
limits apply per process.

The listening socket's send buffer is set before it listens, so every connection accepted on it
inherits the size (tcp(7)). Left to autotuning, a connection's buffer grows to 4 MiB: over 40 s
of audio held for a client that may never read it, and a stall would show only once that is
full (see `SendTimeout` in uvicorn_adapter.py).
"""

import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from service_kit.logs import configure_logging, forward_loguru
from voice_gateway.settings import Settings


def configure(settings: Settings) -> None:
    configure_logging(json=settings.log_json, level=settings.log_level)
    forward_loguru(settings.log_level)  # Pipecat's records, in the same format


def listening_socket(config: uvicorn.Config, send_buffer_bytes: int) -> socket.socket:
    """The bound (not yet listening) socket, with the send buffer its connections inherit."""
    sock = config.bind_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
    return sock


def serve(settings: Settings) -> None:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        # Frames over the limit close the socket with 1009 before they reach the pipeline.
        "ws_max_size": settings.max_frame_bytes,
        # Compressing PCM costs CPU on every frame and saves little.
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 15,
        "workers": settings.workers,
    }
    if settings.workers == 1:
        from voice_gateway.app import create_app

        config = uvicorn.Config(create_app(settings), **options)
        sock = listening_socket(config, settings.client_send_buffer_bytes)
        uvicorn.Server(config).run(sockets=[sock])
    else:  # each worker builds its own app from the same environment
        config = uvicorn.Config("voice_gateway.app:create_app", factory=True, **options)
        sock = listening_socket(config, settings.client_send_buffer_bytes)
        Multiprocess(config, sockets=[sock]).run()
