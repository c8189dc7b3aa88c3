"""The rules of recordings: where their files live, how chunks are accepted, when a recording is
finished (by the gateway, or by the store when the gateway went away), retention, and deletion
with the conversation.

Files: `<database dir>/recordings/<conversation id>/<recording id>.pcm` while recording (raw
stereo PCM16, 24 kHz), `<recording id>.flac` once finished. The database row is written first
and deleted first: a crash in between leaves at most a file no row names, which the periodic
sweep removes; never a row whose file was deleted for a conversation that still exists."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from event_store import metrics
from event_store.disk_space import DiskFullError, DiskSpace
from event_store.recordings import audio
from event_store.recordings.models import Recording
from event_store.repository import Repository

log = structlog.get_logger(__name__)

# A chunk is at most 5 s of audio (the gateway sends 2 s at a time).
CHUNK_MAX_BYTES = 5 * audio.SAMPLE_RATE * audio.FRAME_BYTES
# No recording is longer (the gateway's sessions end at GATEWAY_MAX_DURATION_S, 1 h by default).
MAX_DURATION_S = 6 * 3600
MAX_FRAMES = MAX_DURATION_S * audio.SAMPLE_RATE
# A recording that has received nothing for this long lost its gateway: the store finishes it.
# (The gateway sends every 2 s, and holds its audio at most as long as a session waits for a
# resume, GATEWAY_RESUME_S <= 600 s.)
ABANDONED_AFTER_S = 15 * 60
MAINTENANCE_INTERVAL_S = 60.0


class RecordingNotFound(Exception):
    pass


class RecordingFinished(Exception):
    """The recording is finished: it takes no more chunks (and is finished once)."""


class RecordingStillOpen(Exception):
    """The recording has no audio to serve until it is finished."""


class RecordingTooLong(Exception):
    pass


ChunkOverlaps = audio.ChunkOverlaps


def _now() -> datetime:
    return datetime.now(UTC)


class RecordingStore:
    def __init__(
        self,
        repo: Repository,
        root: Path,
        space: DiskSpace,
        *,
        max_bytes: int,
        max_age: timedelta,
        abandoned_after_s: float = ABANDONED_AFTER_S,
    ) -> None:
        self._repo = repo
        self.root = root
        self._space = space
        self._max_bytes = max_bytes
        self._max_age = max_age
        self._abandoned_after_s = abandoned_after_s
        # One writer per recording (chunks, finish); the layout lock keeps directory creation
        # and removal (start, conversation deletion, the sweep) from interleaving.
        self._locks: dict[str, asyncio.Lock] = {}
        self._layout = asyncio.Lock()
        self._encoding = asyncio.Semaphore(1)  # one FLAC encode at a time: a core, not all

    # --- paths --------------------------------------------------------------------------------

    def _folder(self, conversation_id: str) -> Path:
        folder = self.root / conversation_id
        # Ids are validated at the API (no slash, no leading dot); this is the second lock.
        if folder.resolve().parent != self.root.resolve():
            raise RecordingNotFound(conversation_id)
        return folder

    def raw_path(self, recording: Recording) -> Path:
        return self._folder(recording.conversation_id) / f"{recording.id}.pcm"

    def audio_path(self, recording: Recording) -> Path:
        return self._folder(recording.conversation_id) / f"{recording.id}.{audio.FORMAT}"

    def _lock(self, recording_id: str) -> asyncio.Lock:
        return self._locks.setdefault(recording_id, asyncio.Lock())

    # --- the gateway's calls ------------------------------------------------------------------

    async def start(
        self, conversation_id: str, *, session_id: str | None, started_at: datetime | None
    ) -> Recording:
        recording = Recording(
            id=uuid.uuid4().hex,
            conversation_id=conversation_id,
            session_id=session_id,
            started_at=started_at or _now(),
            finished_at=None,
            duration_s=0.0,
            bytes=0,
            format=audio.FORMAT,
            sample_rate=audio.SAMPLE_RATE,
            channels=audio.CHANNELS,
            state="recording",
        )
        async with self._layout:
            await self._repo.insert_recording(recording)  # DiskFullError: nothing stored
            try:
                await asyncio.to_thread(audio.create_raw, self.raw_path(recording))
            except OSError as exc:
                await self._repo.delete_recordings([recording.id])
                self._raise_if_full(exc)
                raise
        log.info(
            "recording_started",
            conversation_id=conversation_id,
            recording_id=recording.id,
            session_id=session_id,
        )
        return recording

    async def append(
        self, conversation_id: str, recording_id: str, offset: int, data: bytes
    ) -> int:
        """Write a chunk of interleaved stereo PCM16 at `offset` frames; the frames the
        recording then holds. The caller has checked the chunk is whole frames."""
        if offset + len(data) // audio.FRAME_BYTES > MAX_FRAMES:
            raise RecordingTooLong(f"a recording holds at most {MAX_DURATION_S} s")
        async with self._lock(recording_id):
            recording = await self.get(conversation_id, recording_id)
            if recording.state != "recording":
                self._locks.pop(recording_id, None)  # a late chunk: nothing writes it again
                raise RecordingFinished(f"recording {recording_id!r} is finished")
            self._space.check()  # under the floor: DiskFullError, 507
            try:
                return await asyncio.to_thread(
                    audio.write_at, self.raw_path(recording), offset, data
                )
            except FileNotFoundError:  # deleted with its conversation meanwhile
                raise RecordingNotFound(recording_id) from None
            except OSError as exc:
                self._raise_if_full(exc)
                raise

    async def finish(self, conversation_id: str, recording_id: str) -> Recording:
        async with self._lock(recording_id):
            recording = await self.get(conversation_id, recording_id)
            if recording.state != "recording":
                raise RecordingFinished(f"recording {recording_id!r} is already finished")
            finished = await self._finish(recording)
        self._locks.pop(recording_id, None)
        await self.enforce_retention()
        return finished

    async def _finish(self, recording: Recording) -> Recording:
        raw, target = self.raw_path(recording), self.audio_path(recording)
        async with self._encoding:
            try:
                if raw.exists() or not target.exists():
                    frames = await asyncio.to_thread(audio.encode_flac, raw, target)
                else:  # encoded before a crash, the row not yet updated
                    frames = await asyncio.to_thread(audio.flac_frames, target)
            except FileNotFoundError:
                raise RecordingNotFound(recording.id) from None
            except OSError as exc:
                self._raise_if_full(exc)
                raise
            except RuntimeError:  # libsndfile's errors: a full disk is the likely one
                if self._space.free_bytes() < audio.SAMPLE_RATE * audio.FRAME_BYTES * 60:
                    self._space.mark_full()
                    raise DiskFullError("no room to encode the recording") from None
                raise
        size = target.stat().st_size
        finished_at = _now()
        duration_s = round(frames / audio.SAMPLE_RATE, 6)
        if not await self._repo.finish_recording(
            recording.id, duration_s=duration_s, size=size, finished_at=finished_at
        ):  # deleted meanwhile (with its conversation)
            target.unlink(missing_ok=True)
            raise RecordingNotFound(recording.id)
        raw.unlink(missing_ok=True)
        log.info(
            "recording_finished",
            conversation_id=recording.conversation_id,
            recording_id=recording.id,
            duration_s=duration_s,
            bytes=size,
        )
        return recording.model_copy(
            update={
                "state": "finished",
                "duration_s": duration_s,
                "bytes": size,
                "finished_at": finished_at,
            }
        )

    def _raise_if_full(self, exc: OSError) -> None:
        if audio.is_disk_full(exc):
            self._space.mark_full()
            raise DiskFullError(str(exc)) from exc

    # --- reads --------------------------------------------------------------------------------

    async def get(self, conversation_id: str, recording_id: str) -> Recording:
        recording = await self._repo.get_recording(conversation_id, recording_id)
        if recording is None:
            raise RecordingNotFound(recording_id)
        return self._with_progress(recording)

    async def in_conversation(self, conversation_id: str) -> list[Recording]:
        return [self._with_progress(r) for r in await self._repo.list_recordings(conversation_id)]

    async def playable(self, conversation_id: str, recording_id: str) -> tuple[Recording, Path]:
        """A finished recording and its audio file."""
        recording = await self.get(conversation_id, recording_id)
        if recording.state != "finished":
            raise RecordingStillOpen(f"recording {recording_id!r} is still recording")
        path = self.audio_path(recording)
        if not path.exists():
            raise RecordingNotFound(recording_id)
        return recording, path

    def _with_progress(self, recording: Recording) -> Recording:
        """A recording in progress, with what it holds so far."""
        if recording.state != "recording":
            return recording
        frames = audio.raw_frames(self.raw_path(recording))
        return recording.model_copy(
            update={
                "duration_s": round(frames / audio.SAMPLE_RATE, 6),
                "bytes": frames * audio.FRAME_BYTES,
            }
        )

    # --- deletion and retention ---------------------------------------------------------------

    async def conversations_deleted(self, conversation_ids: Iterable[str]) -> None:
        """After their rows were deleted (the recordings' rows cascade): remove their files."""
        async with self._layout:
            for conversation_id in conversation_ids:
                try:
                    folder = self._folder(conversation_id)
                except RecordingNotFound:
                    continue
                removed = await asyncio.to_thread(_remove_folder, folder)
                if removed:
                    metrics.RECORDINGS_DELETED.labels("conversation").inc(removed)
                    log.info(
                        "recordings_deleted",
                        reason="conversation",
                        conversation_id=conversation_id,
                        count=removed,
                    )
        await self._measure()

    async def enforce_retention(self) -> None:
        """Finished recordings older than the age limit go, then the oldest until the total is
        under the size limit. A recording in progress is never deleted (it counts, though)."""
        recordings = [self._with_progress(r) for r in await self._repo.list_recordings()]
        cutoff = _now() - self._max_age
        too_old = [r for r in recordings if r.state == "finished" and r.started_at < cutoff]
        kept = [r for r in recordings if r not in too_old]
        total = sum(r.bytes for r in kept)
        too_many: list[Recording] = []
        for recording in kept:  # oldest first
            if total <= self._max_bytes:
                break
            if recording.state == "finished":
                too_many.append(recording)
                total -= recording.bytes
        await self._delete(too_old, "age")
        await self._delete(too_many, "size")
        metrics.RECORDINGS_BYTES.set(total)

    async def _delete(self, recordings: list[Recording], reason: str) -> None:
        if not recordings:
            return
        await self._repo.delete_recordings([r.id for r in recordings])
        for recording in recordings:
            self.audio_path(recording).unlink(missing_ok=True)
        metrics.RECORDINGS_DELETED.labels(reason).inc(len(recordings))
        log.info("recordings_deleted", reason=reason, count=len(recordings))

    async def _measure(self) -> None:
        recordings = await self._repo.list_recordings()
        metrics.RECORDINGS_BYTES.set(sum(self._with_progress(r).bytes for r in recordings))

    # --- maintenance --------------------------------------------------------------------------

    async def maintain(self) -> None:
        """Finish recordings whose gateway went away, apply retention, remove stray files."""
        await self._finish_abandoned()
        await self.enforce_retention()
        await self._sweep()

    async def _finish_abandoned(self) -> None:
        now = time.time()
        for recording in await self._repo.list_recordings():
            if recording.state != "recording":
                continue
            raw = self.raw_path(recording)
            try:
                last = raw.stat().st_mtime
            except FileNotFoundError:
                last = recording.started_at.timestamp()
            if now - last < self._abandoned_after_s:
                continue
            lock = self._lock(recording.id)
            if lock.locked():
                continue
            async with lock:
                log.warning(
                    "recording_abandoned",
                    conversation_id=recording.conversation_id,
                    recording_id=recording.id,
                )
                with contextlib.suppress(RecordingNotFound):
                    await self._finish(recording)
            self._locks.pop(recording.id, None)

    async def _sweep(self) -> None:
        """Files no row names (their row was deleted and the process died before the files
        were), and empty folders."""
        async with self._layout:
            known = {r.id for r in await self._repo.list_recordings()}
            removed = await asyncio.to_thread(_sweep_files, self.root, known)
        if removed:
            metrics.RECORDINGS_DELETED.labels("orphan").inc(removed)
            log.info("recordings_deleted", reason="orphan", count=removed)

    async def run(self, interval_s: float = MAINTENANCE_INTERVAL_S) -> None:
        """Maintenance now (a restarted store finishes what its gateway left), then every
        `interval_s`, until cancelled."""
        while True:
            try:
                await self.maintain()
            except DiskFullError:
                pass  # logged by DiskSpace; retried at the next round
            except Exception:
                log.exception("recordings_maintenance_failed")
            await asyncio.sleep(interval_s)


def _recording_id(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _remove_folder(folder: Path) -> int:
    """Remove a conversation's recordings folder; how many recordings it held."""
    if not folder.is_dir():
        return 0
    held = {_recording_id(p) for p in folder.iterdir()}
    shutil.rmtree(folder, ignore_errors=True)
    return len(held)


def _sweep_files(root: Path, known: set[str]) -> int:
    if not root.is_dir():
        return 0
    removed: set[str] = set()
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _recording_id(path) not in known:
                path.unlink(missing_ok=True)
                removed.add(_recording_id(path))
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
    return len(removed)
