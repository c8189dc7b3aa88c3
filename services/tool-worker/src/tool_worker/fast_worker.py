"""An arq worker that picks jobs up the moment they are enqueued.

arq polls its queue every `poll_delay` (0.5 s by default), which a caller hears as a pause after
every tool call. Here the loop waits on `BLPOP` of a wake-up list that callers push to right after
enqueueing, so an idle worker costs nothing and starts a job within a round trip; the poll delay
remains only as a fallback (for callers that do not push, and for arq's housekeeping).
"""

import asyncio
from typing import Any

import structlog
from arq.connections import create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.keys import TOOL_WAKE_KEY

log = structlog.get_logger(__name__)


class FastWorker(Worker):
    def __init__(self, *args: Any, wake_redis_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_redis_url = wake_redis_url
        self.polling = False  # true once the job loop runs: the worker is ready

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        # BLPOP holds its connection, so it gets its own; its socket timeout outlasts the block.
        wake = Redis.from_url(self._wake_redis_url, socket_timeout=self.poll_delay_s + 5)
        try:
            while True:
                # Redis restarting is weather, not a crash: jobs already running carry on
                # (their events wait in the sink's buffer) and polling resumes when it is back.
                try:
                    await self._poll_iteration()
                    self.polling = True
                    await wake.blpop([TOOL_WAKE_KEY], timeout=self.poll_delay_s)
                except (RedisError, OSError) as exc:
                    if self.polling:
                        log.warning("redis_unavailable", error=str(exc))
                    self.polling = False
                    await asyncio.sleep(self.poll_delay_s)  # Redis away: retry later
        finally:
            await wake.aclose()
