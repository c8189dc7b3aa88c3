"""Composition root: settings -> Redis, tool dispatch, event outbox, registry -> routes."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from arq.connections import RedisSettings, create_pool
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import ASGIApp

from contracts.session import EndReason
from service_kit.outbox import EventOutbox
from service_kit.settings import load_settings
from voice_gateway import metrics
from voice_gateway.adapters.uvicorn_adapter import SendTimeout, run_before_exit, self_check
from voice_gateway.brains.brain import (
    BrainFactory,
    BrainUnavailable,
    choose_brain,
    unavailable_brain,
)
from voice_gateway.memory import tune_allocator
from voice_gateway.processors.noise_suppression import noise_problem
from voice_gateway.recordings.store_client import RecordingStoreClient
from voice_gateway.server import configure
from voice_gateway.sessions.gateway import Gateway
from voice_gateway.sessions.registry import SessionRegistry
from voice_gateway.sessions.resume import serve_relayed_resumes
from voice_gateway.sessions.session import Services
from voice_gateway.settings import Settings
from voice_gateway.tools.dispatch import ToolDispatcher, encode_job
from voice_gateway.transport.admission import Admission, Limits
from voice_gateway.transport.routes import router

log = structlog.get_logger(__name__)
SHUTDOWN_GRACE_S = 10.0


def create_app(settings: Settings | None = None) -> ASGIApp:
    if settings is None:  # a worker process of several: nothing was configured in it yet
        tune_allocator()
        settings = load_settings(Settings, "voice-gateway")
        configure(settings)
    self_check()  # uvicorn is the version uvicorn_adapter.py reaches into

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Each client is released when the app stops, and also when a later step of the start
        # fails (Redis answers but the brain cannot load, say): the stack unwinds what was made.
        async with AsyncExitStack() as started:
            redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2)
            started.push_async_callback(redis.aclose)
            arq = await create_pool(
                RedisSettings.from_dsn(settings.redis_url),
                job_serializer=encode_job,
                job_deserializer=json.loads,
            )
            started.push_async_callback(arq.aclose)
            dispatcher = ToolDispatcher(redis, arq)
            await dispatcher.start()
            started.push_async_callback(dispatcher.close)
            outbox = EventOutbox(
                redis,
                metrics.EVENTS,
                max_buffered=settings.event_buffer_max,
                backlog_max=settings.events_backlog_max,
            )
            outbox.start()
            started.push_async_callback(outbox.close)
            registry = SessionRegistry(redis, settings.replica)
            started.push_async_callback(registry.close)
            make_brain, brain_problem = await _brain(settings)
            brain_problem = brain_problem or noise_problem(settings)
            # Recorded sessions send their audio to the event-store (recordings/).
            recordings = RecordingStoreClient(settings.event_store_url, settings.token)
            started.push_async_callback(recordings.aclose)
            gateway = Gateway(
                Services(
                    settings,
                    redis,
                    outbox,
                    dispatcher,
                    registry,
                    make_brain,
                    brain_problem,
                    recordings=recordings,
                ),
                Admission(
                    Limits(
                        settings.max_sessions,
                        settings.max_sessions_per_address,
                        settings.connections_per_minute_per_address,
                    )
                ),
            )
            registry.start(gateway.stop_session)
            # Resumes of this process's sessions that reached another process (relay.py).
            relaying = asyncio.create_task(serve_relayed_resumes(gateway), name="relayed")
            started.callback(relaying.cancel)
            started.push_async_callback(gateway.end_all, EndReason.SHUTDOWN, SHUTDOWN_GRACE_S)
            loop = asyncio.get_running_loop()
            metrics.ASYNCIO_TASKS.set_function(lambda: len(asyncio.all_tasks(loop)))
            app.state.gateway = gateway
            run_before_exit(lambda: _drain(gateway))
            log.info(
                "gateway_started",
                port=settings.port,
                brain=settings.brain,
                brain_ready=brain_problem is None,  # its models loaded; else sessions are refused
            )
            yield
        log.info("gateway_stopped")

    app = FastAPI(title="agentic-voice voice-gateway", version="0.1.0", lifespan=lifespan)
    app.include_router(router)
    # Outermost, so the `send` it wraps is the server's own (uvicorn_adapter.py).
    return SendTimeout(app, settings.client_send_timeout_s)


async def _drain(gateway: Gateway) -> None:
    """On SIGTERM, before uvicorn closes the sockets: each session ends as `shutdown` (the
    client hears why, the store records it). A second signal stops at once."""
    log.info("draining", sessions=len(gateway.sessions))
    await gateway.end_all(EndReason.SHUTDOWN, SHUTDOWN_GRACE_S)


async def _brain(settings: Settings) -> tuple[BrainFactory, str | None]:
    """The brain's factory, its models loaded; or why it cannot run (the gateway still starts,
    answers health checks and refuses sessions with that reason)."""
    try:
        make_brain = choose_brain(settings)
        if settings.brain == "local":
            from voice_gateway.brains.local import warm_up

            await warm_up(settings)
    except BrainUnavailable as exc:
        log.error("brain_unavailable", brain=settings.brain, reason=str(exc))
        return unavailable_brain(str(exc)), str(exc)
    return make_brain, None
