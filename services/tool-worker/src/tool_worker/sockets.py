"""The sockets this worker holds, at most one of each kind per conversation."""

import asyncio
from collections import defaultdict

from service_kit.outbox import EventOutbox
from tool_worker.backend_messages import Backend
from tool_worker.backend_socket import BackendSocket
from tool_worker.settings import Settings


class SocketPool:
    def __init__(self, settings: Settings, outbox: EventOutbox) -> None:
        self._settings = settings
        self._outbox = outbox
        self._sockets: dict[tuple[str, Backend], BackendSocket] = {}
        # Calls for one conversation run one at a time, so two never open two sockets.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, conversation_id: str) -> asyncio.Lock:
        return self._locks[conversation_id]

    def url(self, backend: Backend) -> str:
        base = self._settings.agentic_ws_url.rstrip("/")
        agent = self._settings.team_agent_name if backend is Backend.TEAM else "ClaudeCode"
        return f"{base}/api/runs/{agent}"

    def existing(self, conversation_id: str, backend: Backend) -> BackendSocket | None:
        sock = self._sockets.get((conversation_id, backend))
        return sock if sock is not None and sock.open else None

    async def open(self, conversation_id: str, backend: Backend, timeout_s: float) -> BackendSocket:
        sock = BackendSocket(
            backend,
            self.url(backend),
            conversation_id,
            self._outbox,
            self._settings.max_message_bytes,
            self._settings.run_quiet_timeout_s,
        )
        await sock.connect(timeout_s)
        self._sockets[(conversation_id, backend)] = sock
        return sock

    async def close(self, conversation_id: str, backend: Backend) -> bool:
        sock = self._sockets.pop((conversation_id, backend), None)
        if sock is None:
            return False
        await sock.close()
        return True

    def conversations(self) -> set[str]:
        """Conversations with at least one open socket."""
        return {cid for (cid, _), sock in self._sockets.items() if sock.open}

    async def close_all(self) -> None:
        for conversation_id, backend in list(self._sockets):
            await self.close(conversation_id, backend)
