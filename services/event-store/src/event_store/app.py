"""Composition root: settings -> database, Redis, ingest loop, routes."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import structlog
from fastapi import Depends, FastAPI
from redis.asyncio import Redis

from event_store.api import conversations, health, recordings, stream
from event_store.api.auth import require_token
from event_store.api.deps import Services
from event_store.api.middleware import BodyLimitMiddleware, MetricsMiddleware, OriginMiddleware
from event_store.api.responses import disk_full_answer
from event_store.database import Database
from event_store.disk_space import DiskFullError
from event_store.hub import EventHub
from event_store.ingest import StreamIngestor
from event_store.recordings.store import RecordingStore
from event_store.repository import Repository
from event_store.settings import Settings
from event_store.writer import EventWriter

log = structlog.get_logger(__name__)
SHUTDOWN_GRACE_S = 10.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.db_path,
            synchronous=settings.sqlite_synchronous,
            min_free_bytes=settings.min_free_mb * 1024 * 1024,
        )
        await db.open()
        # socket_timeout must outlast the XREADGROUP block time.
        redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.block_ms / 1000 + 5,
            socket_connect_timeout=2,
        )
        repo = Repository(db)
        hub = EventHub()
        writer = EventWriter(repo, hub)
        ingestor = StreamIngestor(redis, writer, settings)
        app.state.services = Services(
            settings=settings,
            repo=repo,
            hub=hub,
            writer=writer,
            ingestor=ingestor,
            redis=redis,
            space=db.space,
        )
        app.state.recordings = recording_store = RecordingStore(
            repo,
            settings.db_path.parent / "recordings",
            db.space,
            max_bytes=settings.recordings_max_mb * 1024 * 1024,
            max_age=timedelta(days=settings.recordings_max_days),
        )
        # Finishes what a gone gateway left, applies retention; now, then every minute.
        recordings_upkeep = asyncio.create_task(recording_store.run(), name="recordings")
        tasks = [
            asyncio.create_task(ingestor.run(), name="ingest"),
            asyncio.create_task(ingestor.maintain(), name="maintain"),
        ]
        log.info("event_store_started", db=str(settings.db_path), port=settings.port)
        try:
            yield
        finally:
            # Let the batch in hand commit and be acknowledged, then close.
            ingestor.stop()
            recordings_upkeep.cancel()
            with suppress(asyncio.CancelledError):
                await recordings_upkeep
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            await redis.aclose()
            await db.close()
            log.info("event_store_stopped")

    app = FastAPI(
        title="agentic-voice event-store",
        summary="Every conversation event, persisted; history, live stream and exports.",
        version="0.1.0",
        lifespan=lifespan,
    )
    protected = [Depends(require_token)]  # open when GATEWAY_TOKEN is unset
    app.include_router(conversations.router, dependencies=protected)
    app.include_router(recordings.router, dependencies=protected)
    # The live stream checks its socket itself: a ticket in its URL, or the header.
    app.include_router(stream.router)
    app.include_router(conversations.admin_router, dependencies=protected)
    app.include_router(health.router)
    app.add_exception_handler(DiskFullError, disk_full_answer)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.body_max_bytes)
    app.add_middleware(OriginMiddleware, allowed=settings.allowed_origins)
    app.add_middleware(MetricsMiddleware)
    return app
