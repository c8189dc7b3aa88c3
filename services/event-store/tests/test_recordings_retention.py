"""The recordings' rules below the API, on a real database and real files: retention by size
and age (oldest first, never one in progress), a recording whose gateway went away finished by
the store, stray files swept, and a full disk refusing a chunk whole."""

import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from prometheus_client import REGISTRY

from event_store.app import create_app
from event_store.database import Database
from event_store.disk_space import DiskFullError
from event_store.recordings.store import RecordingStore
from event_store.repository import Repository
from event_store.settings import Settings
from harness.small_disk import SmallDisk, small_disk

RATE = 24_000
# One second of stereo PCM16 noise: FLAC cannot make it much smaller than raw.
SECOND = np.random.default_rng(7).integers(-8000, 8000, 2 * RATE, dtype="<i2").tobytes()


def _deleted(reason: str) -> float:
    value = REGISTRY.get_sample_value("event_store_recordings_deleted_total", {"reason": reason})
    return value or 0.0


def _bytes_gauge() -> float:
    value = REGISTRY.get_sample_value("event_store_recordings_bytes")
    assert value is not None
    return value


def _store(db: Database, tmp_path: Path, **options: object) -> RecordingStore:
    defaults: dict[str, object] = {"max_bytes": 1024 * 1024 * 1024, "max_age": timedelta(days=30)}
    return RecordingStore(
        Repository(db), tmp_path / "recordings", db.space, **{**defaults, **options}
    )  # type: ignore[arg-type]


async def _recorded(
    store: RecordingStore, seconds: int, *, started_at: datetime | None = None, cid: str = "c1"
) -> str:
    recording = await store.start(cid, session_id=None, started_at=started_at)
    for second in range(seconds):
        await store.append(cid, recording.id, second * RATE, SECOND)
    return recording.id


async def _ids(store: RecordingStore, cid: str = "c1") -> list[str]:
    return [r.id for r in await store.in_conversation(cid)]


async def test_over_the_size_limit_the_oldest_finished_recordings_go_first(
    db: Database, tmp_path: Path
) -> None:
    probe = _store(db, tmp_path)
    size = (await probe.finish("probe", await _recorded(probe, 2, cid="probe"))).bytes
    await Repository(db).delete_conversation("probe")
    await probe.conversations_deleted(["probe"])
    # Room for two finished recordings and one second of a recording in progress.
    store = _store(db, tmp_path, max_bytes=2 * size + len(SECOND) + 1000)
    base = datetime.now(UTC) - timedelta(hours=1)
    oldest = await _recorded(store, 2, started_at=base)
    await store.finish("c1", oldest)
    middle = await _recorded(store, 2, started_at=base + timedelta(minutes=1))
    await store.finish("c1", middle)
    in_progress = await _recorded(store, 1, started_at=base - timedelta(minutes=5))
    await store.enforce_retention()
    assert await _ids(store) == [in_progress, oldest, middle]  # at the limit, not over
    before = _deleted("size")

    newest = await _recorded(store, 2, started_at=base + timedelta(minutes=2))
    await store.finish("c1", newest)  # retention runs after each finish

    # The one in progress is the oldest, but is never deleted: the oldest finished one goes.
    assert await _ids(store) == [in_progress, middle, newest]
    assert _deleted("size") == before + 1
    assert not (tmp_path / "recordings" / "c1" / f"{oldest}.flac").exists()
    assert _bytes_gauge() == sum(r.bytes for r in await store.in_conversation("c1"))

    # What a recording in progress holds counts: a second more puts the total over again.
    await store.append("c1", in_progress, RATE, SECOND)
    await store.maintain()  # the periodic round
    assert await _ids(store) == [in_progress, newest]
    assert _deleted("size") == before + 2


async def test_recordings_older_than_the_age_limit_are_deleted(
    db: Database, tmp_path: Path
) -> None:
    store = _store(db, tmp_path, max_age=timedelta(days=7))
    now = datetime.now(UTC)
    old = await _recorded(store, 1, started_at=now - timedelta(days=8))
    old_in_progress = await _recorded(store, 1, started_at=now - timedelta(days=9))
    recent = await _recorded(store, 1, started_at=now - timedelta(days=6))
    await store.finish("c1", recent)
    before = _deleted("age")
    await store.finish("c1", old)
    assert await _ids(store) == [old_in_progress, recent]
    assert _deleted("age") == before + 1


async def test_a_recording_its_gateway_left_is_finished_by_the_store(
    db: Database, tmp_path: Path
) -> None:
    store = _store(db, tmp_path, abandoned_after_s=60)
    abandoned = await _recorded(store, 2)
    live = await _recorded(store, 1)
    raw = tmp_path / "recordings" / "c1" / f"{abandoned}.pcm"
    an_hour_ago = time.time() - 3600
    os.utime(raw, (an_hour_ago, an_hour_ago))  # nothing received for an hour

    await store.maintain()

    states = {r.id: (r.state, r.duration_s) for r in await store.in_conversation("c1")}
    assert states == {abandoned: ("finished", 2.0), live: ("recording", 1.0)}
    flac = tmp_path / "recordings" / "c1" / f"{abandoned}.flac"
    assert sf.info(str(flac)).frames == 2 * RATE
    assert not raw.exists()


async def test_a_restarted_store_finishes_what_was_left_and_sweeps_stray_files(
    tmp_path: Path, redis_url: str
) -> None:
    settings = Settings(redis_url=redis_url, db_path=tmp_path / "events.db")
    db = Database(settings.db_path)
    await db.open()
    store = _store(db, tmp_path, abandoned_after_s=60)
    left = await _recorded(store, 1)
    raw = tmp_path / "recordings" / "c1" / f"{left}.pcm"
    os.utime(raw, (time.time() - 3600,) * 2)
    stray = tmp_path / "recordings" / "gone" / f"{'f' * 32}.flac"  # its row deleted, then a crash
    stray.parent.mkdir()
    stray.write_bytes(b"fLaC")
    await db.close()
    before = _deleted("orphan")

    app = create_app(settings)
    async with app.router.lifespan_context(app):  # maintenance runs at start
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for _ in range(100):
                listed = (await http.get("/api/realtime/conversations/c1/recordings")).json()
                if listed[0]["state"] == "finished" and not stray.exists():
                    break
                await _pause()
            assert listed[0]["state"] == "finished"
            assert listed[0]["duration_s"] == 1.0
    assert not stray.parent.exists()
    assert _deleted("orphan") == before + 1


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size_mb=8) as mounted:
        yield mounted


@pytest.fixture
async def db_on_small_disk(disk: SmallDisk) -> AsyncIterator[Database]:
    database = Database(disk.path / "events.db")
    await database.open()
    yield database
    await database.close()


async def test_on_a_full_disk_a_chunk_is_refused_whole_and_taken_once_space_returns(
    db_on_small_disk: Database, disk: SmallDisk
) -> None:
    store = RecordingStore(
        Repository(db_on_small_disk),
        disk.path / "recordings",
        db_on_small_disk.space,
        max_bytes=1024 * 1024 * 1024,
        max_age=timedelta(days=30),
    )
    recording = await store.start("c1", session_id=None, started_at=None)
    await store.append("c1", recording.id, 0, SECOND)
    disk.fill()
    with pytest.raises(DiskFullError):
        await store.append("c1", recording.id, RATE, SECOND)
    assert db_on_small_disk.space.full
    [listed] = await store.in_conversation("c1")
    assert listed.duration_s == 1.0  # nothing of the refused chunk was kept

    disk.empty()
    assert await store.append("c1", recording.id, RATE, SECOND) == 2 * RATE
    assert (await store.finish("c1", recording.id)).duration_s == 2.0
