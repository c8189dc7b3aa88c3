"""One worker process holds a conversation's backend sockets, however many workers run.

A worker claims a conversation with `SET NX PX` on its owner key and refreshes the claim while it
holds sockets. A job that lands on another worker is forwarded to the owner over its channel;
if nobody listens there (the owner died), the claim is taken over on the spot.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis

from contracts import ToolJob
from contracts.keys import agentic_owner_key, worker_channel
from service_kit.pubsub import Published, follow

log = structlog.get_logger(__name__)

# Replace the owner only if it is still the one we saw; refresh or release only our own claim.
_IF_OWNER = "if redis.call('get', KEYS[1]) == ARGV[1] then return "
_TAKE_OVER = _IF_OWNER + "redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) end return false"
_REFRESH = _IF_OWNER + "redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = _IF_OWNER + "redis.call('del', KEYS[1]) end return 0"

JobHandler = Callable[[ToolJob], Coroutine[Any, Any, None]]


class Ownership:
    def __init__(self, redis: Redis, worker_id: str, ttl_s: float) -> None:
        self._redis = redis
        self.worker_id = worker_id
        self._ttl_ms = int(ttl_s * 1000)

    async def claim(self, conversation_id: str) -> str:
        """The owner of the conversation after trying to claim it (maybe this worker)."""
        key = agentic_owner_key(conversation_id)
        for _ in range(3):
            if await self._redis.set(key, self.worker_id, nx=True, px=self._ttl_ms):
                return self.worker_id
            owner = await self._redis.get(key)
            if owner is not None:
                return owner.decode() if isinstance(owner, bytes) else str(owner)
        return self.worker_id

    async def forward(self, owner: str, job: ToolJob) -> bool:
        """Hand a job to its owner; False when no one is listening there any more."""
        receivers = await self._redis.publish(worker_channel(owner), job.model_dump_json())
        return int(receivers) > 0

    async def take_over(self, conversation_id: str, dead_owner: str) -> None:
        await self._redis.eval(  # type: ignore[misc]
            _TAKE_OVER,
            1,
            agentic_owner_key(conversation_id),
            dead_owner,
            self.worker_id,
            str(self._ttl_ms),
        )
        log.warning("ownership_taken_over", conversation_id=conversation_id, previous=dead_owner)

    async def refresh(self, conversation_ids: Iterable[str]) -> None:
        for cid in conversation_ids:
            await self._redis.eval(  # type: ignore[misc]
                _REFRESH, 1, agentic_owner_key(cid), self.worker_id, str(self._ttl_ms)
            )

    async def release(self, conversation_id: str) -> None:
        await self._redis.eval(  # type: ignore[misc]
            _RELEASE, 1, agentic_owner_key(conversation_id), self.worker_id
        )

    async def listen(self, handle: JobHandler, ready: asyncio.Event) -> None:
        """Run jobs forwarded to this worker, until cancelled."""
        tasks: set[asyncio.Task[None]] = set()

        async def run(message: Published) -> None:
            try:
                job = ToolJob.model_validate_json(message.data)
            except ValidationError as exc:
                log.warning("forwarded_job_invalid", error=str(exc))
                return
            task = asyncio.create_task(handle(job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        channel = worker_channel(self.worker_id)
        await follow(self._redis, run, channels=[channel], ready=ready, name="forward_channel")
