"""What the app holds while it runs: shared services, admission and this replica's sessions."""

import asyncio
import contextlib

from voice_gateway.memory import MemoryReturn
from voice_gateway.sessions.session import Services, VoiceSession
from voice_gateway.transport.admission import Admission


class Gateway:
    def __init__(self, services: Services, admission: Admission) -> None:
        self.services = services
        self.admission = admission
        self.memory = MemoryReturn()
        self.sessions: dict[str, VoiceSession] = {}
        self.empty = asyncio.Event()
        self.empty.set()

    def add(self, session: VoiceSession) -> None:
        self.sessions[session.id] = session
        self.empty.clear()

    def remove(self, session: VoiceSession) -> None:
        self.sessions.pop(session.id, None)
        self.memory.session_ended()
        if not self.sessions:
            self.empty.set()

    async def stop_session(self, session_id: str, reason: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.end(reason)

    async def end_all(self, reason: str, grace_s: float) -> None:
        """End every session here with `reason`; wait up to `grace_s` for them to finish."""
        for session in list(self.sessions.values()):
            session.end(reason)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.empty.wait(), grace_s)
