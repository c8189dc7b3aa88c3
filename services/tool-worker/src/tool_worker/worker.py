"""Composition root: settings -> Redis, sockets, tools, ownership -> an arq worker.

Every job's result is also PUBLISHed on the call's result channel the moment it is ready, so the
caller never waits for arq's result polling.
"""

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from arq.connections import RedisSettings
from arq.worker import func
from pydantic import ValidationError
from redis.asyncio import Redis

from contracts import ToolErrorKind, ToolJob, ToolResult
from contracts.keys import TOOL_FUNCTION, TOOL_QUEUE, tool_result_channel
from service_kit.outbox import EventOutbox
from tool_worker import metrics
from tool_worker.errors import seconds, spoken
from tool_worker.fast_worker import FastWorker, self_check
from tool_worker.health import serve_health
from tool_worker.ownership import Ownership
from tool_worker.settings import Settings
from tool_worker.sockets import SocketPool
from tool_worker.tools import ToolRunner, backend_of, failure_event

log = structlog.get_logger(__name__)

PING_FUNCTION = "ping"  # not a voice tool: measures the enqueue -> result round trip
DEADLINE_MARGIN_S = 0.1  # answer a little before the caller gives up
MAX_DEADLINE_S = 300


class ToolWorker:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        self.settings = settings
        self._redis = redis
        self.outbox = EventOutbox(
            redis, metrics.EVENTS, live=True, backlog_max=settings.events_backlog_max
        )
        self.sockets = SocketPool(settings, self.outbox)
        self.runner = ToolRunner(self.sockets, self.outbox, settings.connect_timeout_s)
        self.ownership = Ownership(redis, settings.worker_id, settings.owner_ttl_s)
        self.forwarding_ready = asyncio.Event()
        self._claimed: set[str] = set()

    async def handle(self, payload: dict[str, Any], started: float) -> dict[str, Any]:
        """An arq job: run it here, or hand it to the worker holding the conversation."""
        try:
            job = ToolJob.model_validate(payload)
        except ValidationError as exc:
            log.warning("tool_job_invalid", error=str(exc))
            return {"ok": False, "message": "The tool call was malformed."}
        owner = await self.ownership.claim(job.conversation_id)
        if owner != self.settings.worker_id:
            if await self.ownership.forward(owner, job):
                metrics.JOBS_FORWARDED.inc()
                log.info("tool_job_forwarded", call_id=job.call_id, owner=owner)
                return {"forwarded_to": owner}
            await self.ownership.take_over(job.conversation_id, owner)
        result = await self.execute(job, started)
        return result.model_dump(mode="json")

    async def execute(self, job: ToolJob, started: float | None = None) -> ToolResult:
        self._claimed.add(job.conversation_id)
        deadline = (started or time.monotonic()) + job.deadline_s - DEADLINE_MARGIN_S
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                result = await self.runner.run(job, deadline=deadline)
        except TimeoutError:
            detail = f"the agentic backend did not answer within {seconds(job.deadline_s)}"
            said = spoken(ToolErrorKind.TIMEOUT, backend_of(job.name).whom)
            result = ToolResult.failure(job, ToolErrorKind.TIMEOUT, said, detail)
            metrics.TOOL_CALLS.labels(job.name, ToolErrorKind.TIMEOUT).inc()
            metrics.TOOL_CALL_SECONDS.labels(job.name).observe(job.deadline_s)
            log.warning("tool_call", call_id=job.call_id, outcome="timeout", detail=detail)
            self.outbox.publish(failure_event(job, result))
        await self._redis.publish(tool_result_channel(job.call_id), result.model_dump_json())
        return result

    async def forwarded(self, job: ToolJob) -> None:
        await self.execute(job)

    async def maintain(self) -> None:
        """Keep the claims on conversations with open sockets; let go of the others."""
        while True:
            await asyncio.sleep(self.settings.owner_ttl_s / 3)
            holding = self.sockets.conversations()
            with contextlib.suppress(Exception):
                await self.ownership.refresh(holding)
                for cid in list(self._claimed - holding):
                    if not self.sockets.lock(cid).locked():
                        await self.ownership.release(cid)
                        self._claimed.discard(cid)

    async def close(self) -> None:
        await self.sockets.close_all()
        await self.outbox.close()
        for cid in self._claimed:
            with contextlib.suppress(Exception):
                await self.ownership.release(cid)


async def run_tool(ctx: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    app: ToolWorker = ctx["app"]
    # The caller's clock started at enqueue, not when this worker picked the job up.
    queued_s = (datetime.now(UTC) - ctx["enqueue_time"]).total_seconds()
    return await app.handle(payload, started=time.monotonic() - max(0.0, queued_s))


async def ping(ctx: dict[str, Any], call_id: str) -> dict[str, Any]:
    result = {"call_id": call_id, "ok": True}
    await ctx["redis"].publish(tool_result_channel(call_id), json.dumps(result))
    return result


def build_worker(settings: Settings) -> FastWorker:
    self_check()  # arq is the version FastWorker's loop was forked from
    tasks: list[asyncio.Task[Any]] = []

    async def on_startup(ctx: dict[str, Any]) -> None:
        app = ToolWorker(settings, ctx["redis"])
        ctx["app"] = app
        app.outbox.start()
        tasks.append(asyncio.create_task(app.ownership.listen(app.forwarded, app.forwarding_ready)))
        tasks.append(asyncio.create_task(app.maintain()))

        def ready() -> bool:
            return worker.polling and app.forwarding_ready.is_set()

        ctx["health"] = await serve_health(settings.host, settings.port, ready)
        log.info(
            "tool_worker_started",
            worker_id=settings.worker_id,
            port=settings.port,
            backend=settings.agentic_ws_url,
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await ctx["app"].close()
        ctx["health"].close()
        log.info("tool_worker_stopped", worker_id=settings.worker_id)

    worker = FastWorker(
        functions=[func(run_tool, name=TOOL_FUNCTION), func(ping, name=PING_FUNCTION)],
        queue_name=TOOL_QUEUE,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        wake_redis_url=settings.redis_url,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=settings.max_jobs,
        poll_delay=settings.poll_delay_s,
        job_timeout=MAX_DEADLINE_S,
        # A tool call is never re-run after a crash: sending work twice would surprise people.
        max_tries=1,
        keep_result=60,
        allow_abort_jobs=True,
        job_serializer=lambda obj: json.dumps(obj).encode(),
        job_deserializer=json.loads,
    )
    return worker
