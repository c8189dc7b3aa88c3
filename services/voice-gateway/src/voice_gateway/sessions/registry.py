"""The session registry in Redis, so any gateway replica can list and stop any session.

Each live session is a hash (`contracts.keys.session_key`) with a TTL refreshed by its replica's
heartbeat, and a member of the `SESSIONS_KEY` set. A replica that dies stops refreshing, its
entries expire, and listing prunes them. Stopping publishes on the session's control channel;
the replica holding the session is subscribed to the pattern and ends it.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.keys import SESSIONS_KEY, session_control_channel, session_key
from contracts.session import EndReason
from service_kit.pubsub import Published, follow

log = structlog.get_logger(__name__)

StopHandler = Callable[[str, str], Awaitable[None]]  # (session_id, reason)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    session_id: str
    conversation_id: str
    replica: str
    client: str
    brain: str
    wire_format: str
    started_at: float


class SessionRegistry:
    def __init__(self, redis: Redis, replica: str, *, ttl_s: int = 30) -> None:
        self._redis = redis
        self.replica = replica
        self._ttl_s = ttl_s
        self._local: dict[str, SessionInfo] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- this replica's sessions ----------------------------------------------------------------

    async def add(self, info: SessionInfo) -> None:
        self._local[info.session_id] = info
        await self._write(info)

    async def remove(self, session_id: str) -> None:
        self._local.pop(session_id, None)
        with contextlib.suppress(RedisError, OSError):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(session_key(session_id))
                pipe.srem(SESSIONS_KEY, session_id)
                await pipe.execute()

    async def _write(self, info: SessionInfo) -> None:
        fields = {k: str(v) for k, v in asdict(info).items()}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(info.session_id), mapping=fields)
            pipe.expire(session_key(info.session_id), self._ttl_s)
            pipe.sadd(SESSIONS_KEY, info.session_id)
            await pipe.execute()

    def start(self, on_stop: StopHandler) -> None:
        """Heartbeat the local sessions and obey stop requests addressed to them."""
        self._tasks = [
            asyncio.create_task(self._heartbeat(), name="registry-heartbeat"),
            asyncio.create_task(self._listen(on_stop), name="registry-control"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session_id in list(self._local):
            await self.remove(session_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_s / 3)
            for info in list(self._local.values()):
                try:
                    await self._write(info)
                except (RedisError, OSError) as exc:
                    log.warning("registry_heartbeat_failed", error=str(exc))
                    break

    async def _listen(self, on_stop: StopHandler) -> None:
        async def stop(message: Published) -> None:
            session_id = message.channel.rsplit(":", 1)[-1]
            if session_id in self._local:
                await on_stop(session_id, _text(message.data) or EndReason.STOPPED)

        pattern = session_control_channel("*")
        await follow(self._redis, stop, patterns=[pattern], name="registry_control")

    # --- any replica's sessions -----------------------------------------------------------------

    async def list(self) -> list[dict[str, Any]]:
        members: Any = await self._redis.smembers(SESSIONS_KEY)  # type: ignore[misc]
        ids = sorted(_text(i) for i in members)
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hgetall(session_key(session_id))
            rows = await pipe.execute()
        sessions, expired = [], []
        now = time.time()
        for session_id, row in zip(ids, rows, strict=True):
            if not row:
                expired.append(session_id)
                continue
            info = {_text(k): _text(v) for k, v in row.items()}
            started = float(info.get("started_at", now))
            sessions.append({**info, "started_at": started, "age_s": round(now - started, 1)})
        if expired:
            await self._redis.srem(SESSIONS_KEY, *expired)  # type: ignore[misc]
        return sessions

    async def get(self, session_id: str) -> SessionInfo | None:
        """A live session on any replica, or None."""
        row: Any = await self._redis.hgetall(session_key(session_id))  # type: ignore[misc]
        if not row:
            return None
        info = {_text(k): _text(v) for k, v in row.items()}
        try:
            return SessionInfo(
                session_id=info["session_id"],
                conversation_id=info["conversation_id"],
                replica=info["replica"],
                client=info["client"],
                brain=info["brain"],
                wire_format=info["wire_format"],
                started_at=float(info["started_at"]),
            )
        except (KeyError, ValueError):
            return None

    async def request_stop(self, session_id: str, reason: str = EndReason.STOPPED) -> bool:
        """Ask whichever replica holds the session to stop it; False if no such session."""
        if not await self._redis.exists(session_key(session_id)):
            return False
        receivers = await self._redis.publish(session_control_channel(session_id), reason)
        return int(receivers) > 0


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
