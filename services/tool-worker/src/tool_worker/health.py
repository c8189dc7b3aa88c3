"""A small HTTP endpoint for a process that is not a web app: /healthz, /readyz, /metrics."""

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Ready = Callable[[], bool]


async def serve_health(host: str, port: int, ready: Ready) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request_line.decode(errors="replace").split()
            path = parts[1] if len(parts) > 1 else ""
            if path == "/healthz":
                status, body, kind = "200 OK", b'{"status":"ok"}', "application/json"
            elif path == "/readyz":
                ok = ready()
                status = "200 OK" if ok else "503 Service Unavailable"
                body = b'{"status":"ready"}' if ok else b'{"status":"not ready"}'
                kind = "application/json"
            elif path == "/metrics":
                status, body, kind = "200 OK", generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, kind = "404 Not Found", b'{"detail":"not found"}', "application/json"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
