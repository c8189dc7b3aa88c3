"""Short local-brain sessions as a browser makes them, for the benchmarks that repeat them
(bench/soak.py against host processes, bench/stack_memory.py against the composed stack)."""

from __future__ import annotations

import asyncio
import ssl
import time

import websockets

from harness.speech import silence, stream_at_real_time

LOCAL_SAYINGS = ("What can you do?", "What is the weather like?", "Start over.")
LOCAL_TASK = "Please ask the team to write a haiku about the sea."


async def local_session(url: str, pcm: bytes, tls: ssl.SSLContext | None = None) -> float | None:
    """One short session: the greeting begins, the user speaks over it, and the session ends at
    the first audio of the answer. Returns the seconds from the end of speech to that audio
    (None: no answer within 30 s). `tls`: for a wss:// URL (through nginx)."""
    async with websockets.connect(url, open_timeout=30, max_size=2**20, ssl=tls) as ws:
        said_at: float | None = None
        answered = asyncio.get_running_loop().create_future()

        async def listen() -> None:
            async for frame in ws:
                if isinstance(frame, bytes) and said_at is not None and not answered.done():
                    answered.set_result(time.monotonic() - said_at)

        listener = asyncio.create_task(listen())
        try:
            await stream_at_real_time(ws.send, silence(200) + pcm)
            said_at = time.monotonic()
            await stream_at_real_time(ws.send, silence(1500))
            return float(await asyncio.wait_for(answered, 30))
        except TimeoutError:
            return None
        finally:
            listener.cancel()
