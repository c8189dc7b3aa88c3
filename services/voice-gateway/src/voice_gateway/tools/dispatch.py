"""Tool calls as jobs for the tool-worker, with results in hand the moment they exist.

One pattern subscription per process receives every result the workers publish; a call
enqueues its job, pushes a wake-up so an idle worker starts it at once, and waits on a future,
bounded by the job's deadline. Nothing polls.
"""

import asyncio
import contextlib
import json
import time
from datetime import timedelta
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.constants import abort_jobs_ss
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ToolErrorKind, ToolJob, ToolResult
from contracts.keys import TOOL_FUNCTION, TOOL_QUEUE, TOOL_RESULT_PATTERN, TOOL_WAKE_KEY
from service_kit.pubsub import Published, follow

log = structlog.get_logger(__name__)

PING_FUNCTION = "ping"
WAKE_KEEP = 100  # a worker that was down finds at most this many wake-ups waiting


# What the assistant says when the call never got an answer from the tool-worker.
_SPOKEN = {
    ToolErrorKind.TIMEOUT: "That took too long, so I couldn't pass it on.",
    ToolErrorKind.UNAVAILABLE: "I can't pass that on right now.",
    ToolErrorKind.BAD_RESULT: "Something went wrong passing that on.",
}


def _failure(job: ToolJob, kind: ToolErrorKind, detail: str) -> ToolResult:
    log.warning("tool_dispatch_failed", call_id=job.call_id, kind=kind, detail=detail)
    return ToolResult.failure(job, kind, _SPOKEN[kind], detail)


def encode_job(obj: Any) -> bytes:
    """arq job payloads are JSON on both sides (never pickle)."""
    return json.dumps(obj).encode()


class ToolDispatcher:
    def __init__(self, redis: Redis, arq: ArqRedis) -> None:
        self._redis = redis
        self._arq = arq
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._listener: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="tool-results")
        await asyncio.wait_for(self.ready.wait(), 5)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def call(self, job: ToolJob) -> ToolResult:
        """Run a tool; always returns within `job.deadline_s`, with a spoken failure if need be."""
        try:
            raw = await self._round_trip(
                job.call_id, TOOL_FUNCTION, job.model_dump(mode="json"), job.deadline_s
            )
            return ToolResult.model_validate_json(raw)
        except TimeoutError:
            await self._abort(job.call_id)
            detail = f"the tool-worker did not answer within {job.deadline_s:g} s"
            return _failure(job, ToolErrorKind.TIMEOUT, detail)
        except (RedisError, OSError) as exc:
            return _failure(job, ToolErrorKind.UNAVAILABLE, f"Redis is unreachable ({exc})")
        except ValidationError as exc:
            detail = f"the tool-worker's answer is not a ToolResult ({exc.error_count()} errors)"
            return _failure(job, ToolErrorKind.BAD_RESULT, detail)

    async def ping(self, call_id: str, timeout_s: float = 5.0) -> dict[str, Any]:
        """A no-op job through the same path: for measuring the round trip."""
        raw = await self._round_trip(call_id, PING_FUNCTION, call_id, timeout_s)
        result: dict[str, Any] = json.loads(raw)
        return result

    async def _round_trip(self, call_id: str, function: str, arg: Any, timeout_s: float) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        try:
            job = await self._arq.enqueue_job(
                function,
                arg,
                _job_id=call_id,
                _queue_name=TOOL_QUEUE,
                _expires=timedelta(seconds=timeout_s),
            )
            if job is None:
                raise ValueError(f"a job with id {call_id!r} already exists")
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.lpush(TOOL_WAKE_KEY, 1)
                pipe.ltrim(TOOL_WAKE_KEY, 0, WAKE_KEEP - 1)
                await pipe.execute()
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self._waiting.pop(call_id, None)

    async def _abort(self, call_id: str) -> None:
        # The caller has given up: make sure the job does not run later and surprise anyone.
        # (What arq's Job.abort() does first, without then polling for the result.)
        with contextlib.suppress(RedisError, OSError):
            await self._arq.zadd(abort_jobs_ss, {call_id: int(time.time() * 1000)})

    async def _listen(self) -> None:
        async def deliver(message: Published) -> None:
            call_id = message.channel.rsplit(":", 1)[-1]
            future = self._waiting.get(call_id)
            if future is not None and not future.done():
                future.set_result(message.data)

        await follow(
            self._redis,
            deliver,
            patterns=[TOOL_RESULT_PATTERN],
            ready=self.ready,
            name="tool_results",
            reconnect_delay_s=0.5,
        )
