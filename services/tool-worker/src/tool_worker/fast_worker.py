"""An arq worker that picks jobs up the moment they are enqueued.

arq polls its queue every `poll_delay` (0.5 s by default), which a caller hears as a pause after
every tool call. Here the loop waits on `BLPOP` of a wake-up list that callers push to right after
enqueueing, so an idle worker costs nothing and starts a job within a round trip; the poll delay
remains only as a fallback (for callers that do not push, and for arq's housekeeping).

arq has no hook for how its loop waits, so `FastWorker.main` is a fork of `arq.worker.Worker.main`
(0.28.0, pinned exactly) and calls its private `_poll_iteration`. `self_check()` runs when the
worker is built and in a canary test (tests/test_fast_worker.py): it fails, naming what changed,
when the installed arq's `main` is no longer the one forked here or a name used is gone.
"""

import asyncio
import hashlib
import inspect
from typing import Any

import structlog
from arq.connections import create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.keys import TOOL_WAKE_KEY

log = structlog.get_logger(__name__)

ARQ_VERSION = "0.28.0"
# sha256 of the source of arq 0.28.0's `Worker.main`, the loop forked below.
FORKED_MAIN_SHA256 = "45ca1591c9717466"
USED = ("_pool", "_poll_iteration", "ctx", "on_startup", "poll_delay_s", "expires_extra_ms")


class ArqMismatch(RuntimeError):
    """The installed arq is not the one `FastWorker` was forked from."""


def self_check() -> None:
    """Fail loudly if the installed arq is not the one `FastWorker.main` was forked from."""
    import arq

    if arq.VERSION != ARQ_VERSION:
        raise ArqMismatch(f"arq {arq.VERSION} is installed; fast_worker.py forks {ARQ_VERSION}")
    source = inspect.getsource(Worker.main)
    if hashlib.sha256(source.encode()).hexdigest()[:16] != FORKED_MAIN_SHA256:
        raise ArqMismatch("arq's Worker.main changed: port the change into FastWorker.main")
    set_in_init = Worker.__init__.__code__.co_names  # the attributes __init__ assigns
    missing = [name for name in USED if not (hasattr(Worker, name) or name in set_in_init)]
    if missing:
        raise ArqMismatch(f"arq's Worker has none of: {', '.join(missing)}")


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
