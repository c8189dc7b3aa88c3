"""The stream consumer: Redis events stream -> SQLite, in batches, acknowledged after commit.

Guarantees: an entry is XACKed only after the transaction holding it has committed, so a crash
at any point leaves it pending and it is read again; inserts are idempotent on the event id, so
reading it again stores nothing twice. Malformed entries are committed to `dead_letters` and
acknowledged in the same batch, so they never block what follows.
"""

import asyncio
import sqlite3
import time
from contextlib import suppress
from typing import Any

import structlog
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from contracts import ConversationEvent
from contracts.keys import EVENT_STORE_GROUP, EVENTS_STREAM
from event_store import metrics
from event_store.disk_space import DiskFullError
from event_store.models import DeadLetter
from event_store.settings import Settings
from event_store.writer import EventWriter

log = structlog.get_logger(__name__)

Entry = tuple[bytes, dict[bytes, bytes] | None]
RAW_KEEP_CHARS = 4096
MAINTENANCE_INTERVAL_S = 1.0
RECLAIM_INTERVAL_MAX_S = 5.0
# While the disk is full, how often the pending batch is tried again (each try is one refused
# transaction, or just a free-space check under the floor).
DISK_FULL_RETRY_S = 1.0


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()
        )[:500]
    return str(exc)[:500]


def _dead_letter(entry_id: bytes, fields: dict[bytes, bytes], exc: Exception) -> DeadLetter:
    raw = repr({k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()})
    return DeadLetter(stream_id=entry_id.decode(), reason=_reason(exc), raw=raw[:RAW_KEEP_CHARS])


def _reason_label(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        types = {e["type"] for e in exc.errors()}
        return "invalid_json" if "json_invalid" in types else "invalid_event"
    return "missing_event_field" if "has no" in str(exc) else "too_large"


def parse_entries(entries: list[Entry]) -> tuple[list[ConversationEvent], list[DeadLetter]]:
    """Split a batch into valid events and dead letters; entries deleted from the stream
    (no fields) are neither, and are just acknowledged."""
    events: list[ConversationEvent] = []
    dead: list[DeadLetter] = []
    for entry_id, fields in entries:
        if not fields:
            continue
        try:
            events.append(ConversationEvent.from_stream_fields(fields))
        except ValueError as exc:
            metrics.EVENTS_DEAD_LETTERED.labels(_reason_label(exc)).inc()
            dead.append(_dead_letter(entry_id, fields, exc))
    return events, dead


class StreamIngestor:
    def __init__(self, redis: Redis, writer: EventWriter, settings: Settings) -> None:
        self._redis = redis
        self._writer = writer
        self._settings = settings
        self._stopping = asyncio.Event()
        self.connected = False

    async def run(self) -> None:
        """Consume until stopped; every failure is logged and retried with backoff."""
        delay = 0.1
        while not self._stopping.is_set():
            try:
                await self._ensure_group()
                self._set_connected(True)
                delay = 0.1
                await self._consume()
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                self._set_connected(False)
                metrics.INGEST_ERRORS.labels("redis_unavailable").inc()
                log.warning("redis_unavailable", error=str(exc), retry_in_s=delay)
            except ResponseError as exc:
                # NOGROUP: Redis lost its data (restarted without persistence); recreate.
                metrics.INGEST_ERRORS.labels("redis_response").inc()
                log.warning("redis_error", error=str(exc))
            except DiskFullError:
                # Logged by DiskSpace once per episode. Nothing was acknowledged: the batch
                # stays pending in Redis, and is read again (alone: nothing new is read while
                # it is pending) until space returns.
                metrics.INGEST_ERRORS.labels("disk_full").inc()
                delay = min(delay, DISK_FULL_RETRY_S)
            except sqlite3.Error as exc:
                # Nothing was acknowledged: the batch stays pending and is read again.
                metrics.INGEST_ERRORS.labels("sqlite").inc()
                log.error("sqlite_error", error=str(exc))
            if not self._stopping.is_set():
                # A retry delay with backoff, interruptible by stop().
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                except TimeoutError:
                    delay = min(delay * 2, 5.0)
        self._set_connected(False)

    def stop(self) -> None:
        self._stopping.set()

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        metrics.REDIS_UP.set(1 if value else 0)

    async def _ensure_group(self) -> None:
        try:
            # From "0": after data loss, re-reading old entries only yields ignored duplicates.
            await self._redis.xgroup_create(EVENTS_STREAM, EVENT_STORE_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self) -> None:
        settings = self._settings
        cursor = "0"  # first what this consumer left pending before it died, then new entries
        next_reclaim = 0.0
        while not self._stopping.is_set():
            if time.monotonic() >= next_reclaim:
                await self._reclaim()
                next_reclaim = time.monotonic() + min(
                    RECLAIM_INTERVAL_MAX_S, settings.claim_idle_ms / 1000
                )
            response: Any = await self._redis.xreadgroup(
                EVENT_STORE_GROUP,
                settings.consumer_name,
                {EVENTS_STREAM: cursor},
                count=settings.batch_max,
                block=None if cursor != ">" else settings.block_ms,
            )
            entries: list[Entry] = response[0][1] if response else []
            if cursor != ">":
                if not entries:
                    cursor = ">"
                    continue
                cursor = entries[-1][0].decode()
            if entries:
                await self.persist(entries)

    async def _reclaim(self) -> None:
        """Take over entries that a dead consumer left pending for too long."""
        start = "0-0"
        while True:
            result: Any = await self._redis.xautoclaim(
                EVENTS_STREAM,
                EVENT_STORE_GROUP,
                self._settings.consumer_name,
                min_idle_time=self._settings.claim_idle_ms,
                start_id=start,
                count=self._settings.batch_max,
            )
            start, claimed = result[0], result[1]
            if claimed:
                log.info("pending_reclaimed", count=len(claimed))
                await self.persist(claimed)
            if start in (b"0-0", "0-0") or not claimed:
                return

    async def persist(self, entries: list[Entry]) -> None:
        events, dead = parse_entries(entries)
        await self._writer.write(events, dead)
        # Only now, with the batch committed, may Redis forget the entries.
        await self._redis.xack(EVENTS_STREAM, EVENT_STORE_GROUP, *[e[0] for e in entries])
        metrics.BATCH_SIZE.observe(len(entries))
        for letter in dead:
            log.warning("entry_dead_lettered", stream_id=letter.stream_id, reason=letter.reason)

    async def maintain(self) -> None:
        """Every second: publish the consumer lag, and trim entries already persisted."""
        while not self._stopping.is_set():
            # Best effort: the consumer loop is the one that reports Redis trouble.
            with suppress(RedisConnectionError, RedisTimeoutError, OSError, ResponseError):
                await self._update_lag_and_trim()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=MAINTENANCE_INTERVAL_S)
            except TimeoutError:
                continue

    async def _update_lag_and_trim(self) -> None:
        groups: Any = await self._redis.xinfo_groups(EVENTS_STREAM)
        group = next((g for g in groups if _text(g["name"]) == EVENT_STORE_GROUP), None)
        if group is None:
            return
        pending = int(group["pending"])
        lag = group.get("lag")
        if lag is None:  # Redis cannot tell after deletions: the stream length is an upper bound
            lag = max(0, int(await self._redis.xlen(EVENTS_STREAM)) - pending)
        metrics.CONSUMER_LAG.set(pending + int(lag))
        # Keep everything not yet acknowledged; drop what is safely in SQLite.
        if pending:
            summary: Any = await self._redis.xpending(EVENTS_STREAM, EVENT_STORE_GROUP)
            keep_from = _text(summary["min"])
        else:
            keep_from = _text(group["last-delivered-id"])
        if keep_from and keep_from != "0-0":
            await self._redis.xtrim(EVENTS_STREAM, minid=keep_from, approximate=True)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
