"""One session's recording: the serializer's audio hooks feed it, a background task aligns the
two directions (aligner.py) and sends them to the event-store every couple of seconds, and
`close()` sends the rest and finishes the recording.

The audio path never waits on it: `user()` and `assistant()` only note the chunk and the time.
Memory is bounded: chunks waiting for the store are at most `QUEUE_CHUNKS`; past that, or when
the store is unreachable or refuses a write, a chunk is dropped and counted
(`gateway_recording_chunks_dropped_total`, logged once per recording). Each chunk carries its
offset, so a dropped one leaves silence in the recording, never a shift."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from voice_gateway import metrics
from voice_gateway.recordings.aligner import FRAME_BYTES, SAMPLE_RATE, StereoAligner
from voice_gateway.recordings.store_client import (
    RecordingRefused,
    RecordingStoreClient,
    StoreUnavailable,
)

log = structlog.get_logger(__name__)

SHIP_INTERVAL_S = 2.0
CHUNK_FRAMES = 2 * SAMPLE_RATE  # 2 s a request: 192 KB, under the store's 512 KiB body limit
QUEUE_CHUNKS = 16  # about 32 s of audio waiting for the store, 3 MB
MAX_HEARD = 50 * 120  # hook calls between two rounds kept at most (a minute of both directions)
START_RETRY_S = 2.0
CLOSE_TIMEOUT_S = 40.0  # the rest sent, and the store's FLAC encode (store_client.py)

Hook = Callable[[bytes], None]
OnEvent = Callable[[str, dict[str, Any]], None]  # (event type, payload)


def tap(meter: Hook, recorder: Hook | None) -> Hook:
    """A serializer hook: the meter, then the recorder's hook when the session records."""
    if recorder is None:
        return meter

    def both(pcm: bytes) -> None:
        meter(pcm)
        recorder(pcm)

    return both


@dataclass(frozen=True, slots=True)
class _Chunk:
    offset: int  # frames from the recording's start
    stereo: bytes


class SessionRecorder:
    def __init__(
        self,
        store: RecordingStoreClient,
        conversation_id: str,
        session_id: str,
        *,
        on_event: OnEvent,
        hold_s: float,
        clock: Callable[[], float] = time.monotonic,
        interval_s: float = SHIP_INTERVAL_S,
        queue_chunks: int = QUEUE_CHUNKS,
    ) -> None:
        self._store = store
        self._conversation_id = conversation_id
        self._session_id = session_id
        self._on_event = on_event
        self._clock = clock
        self._t0 = clock()
        self.started_at = datetime.now(UTC)  # the events' clock: where the recording's 0 is
        self.ended_at: datetime | None = None
        self._aligner = StereoAligner(hold_s=hold_s)
        self._heard: list[tuple[bool, float, bytes]] = []  # (the user's?, time, PCM16)
        self._queue: asyncio.Queue[_Chunk | None] = asyncio.Queue(maxsize=queue_chunks)
        self._closing = asyncio.Event()
        self._closed = False
        self._refused = False
        self.recording_id: str | None = None
        self.dropped = 0
        self._log = log.bind(conversation_id=conversation_id, session_id=session_id)
        self._task = asyncio.create_task(self._run(interval_s), name=f"recording-{session_id}")

    # --- the audio path: note it, nothing else ----------------------------------------------

    def user(self, pcm: bytes) -> None:
        """Audio from the browser (24 kHz PCM16 mono), as it arrives."""
        if not self._closed and len(self._heard) < MAX_HEARD:
            self._heard.append((True, self._clock() - self._t0, pcm))

    def assistant(self, pcm: bytes) -> None:
        """Audio written to the browser (24 kHz PCM16 mono), as it is written."""
        if not self._closed and len(self._heard) < MAX_HEARD:
            self._heard.append((False, self._clock() - self._t0, pcm))

    # --- the end ------------------------------------------------------------------------------

    async def close(self) -> None:
        """The rest sent, the recording finished; bounded in time, never raises."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self._task.cancel()
            self._log.warning("recording_close_timeout", recording_id=self.recording_id)
        except Exception:
            self._log.exception("recording_failed", recording_id=self.recording_id)

    # --- the background task ------------------------------------------------------------------

    async def _run(self, interval_s: float) -> None:
        sender = asyncio.create_task(self._send(), name=f"recording-sender-{self._session_id}")
        try:
            while not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), interval_s)
                if self._closing.is_set():
                    break
                for chunk in self._cut(final=False):
                    try:
                        self._queue.put_nowait(chunk)
                    except asyncio.QueueFull:
                        self._drop("queue_full")
            for chunk in self._cut(final=True):
                await self._queue.put(chunk)  # the last of it waits for room
            await self._queue.put(None)
            await sender
        finally:
            sender.cancel()

    def _cut(self, *, final: bool) -> list[_Chunk]:
        heard, self._heard = self._heard, []
        for is_user, t, pcm in heard:
            if is_user:
                self._aligner.user(t, pcm)
            else:
                self._aligner.assistant(t, pcm)
        now = self._clock() - self._t0
        if final:
            self.ended_at = datetime.now(UTC)
        offset, stereo = self._aligner.finish(now) if final else self._aligner.take(now)
        size = CHUNK_FRAMES * FRAME_BYTES
        return [
            _Chunk(offset + start // FRAME_BYTES, stereo[start : start + size])
            for start in range(0, len(stereo), size)
        ]

    async def _send(self) -> None:
        recording_id = self.recording_id = await self._start()
        while (chunk := await self._queue.get()) is not None:
            if recording_id is None:
                self._drop("not_started")
            elif self._refused:
                self._drop("refused")
            else:
                await self._append(recording_id, chunk)
        if recording_id is None:
            return
        finished = False
        if not self._refused:
            try:
                await self._store.finish(self._conversation_id, recording_id)
                finished = True
            except (RecordingRefused, StoreUnavailable) as exc:
                self._log.warning(
                    "recording_not_finished", recording_id=recording_id, error=str(exc)
                )
        duration_s = round(self._aligner.frames / SAMPLE_RATE, 3)
        self._log.info(
            "recording_stopped",
            recording_id=recording_id,
            duration_s=duration_s,
            dropped_chunks=self.dropped,
        )
        self._on_event(
            "recording_stopped",
            {
                "recording_id": recording_id,
                "session_id": self._session_id,
                "duration_s": duration_s,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                "dropped_chunks": self.dropped,
                "finished": finished,
            },
        )

    async def _start(self) -> str | None:
        """The store's id for this recording; None if it never answered (tried until the
        session ends; what is recorded meanwhile waits in the queue) or refused."""
        while True:
            try:
                recording_id = await self._store.start(
                    self._conversation_id, self._session_id, self.started_at
                )
            except RecordingRefused as exc:
                self._not_started(str(exc))
                return None
            except StoreUnavailable as exc:
                if self._closing.is_set():
                    self._not_started(str(exc))
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), START_RETRY_S)
                continue
            self._log.info("recording_started", recording_id=recording_id)
            self._on_event(
                "recording_started",
                {
                    "recording_id": recording_id,
                    "session_id": self._session_id,
                    "started_at": self.started_at.isoformat(),
                    "sample_rate": SAMPLE_RATE,
                    "channels": 2,
                },
            )
            return recording_id

    def _not_started(self, error: str) -> None:
        self._log.warning("recording_not_started", error=error)
        self._on_event("recording_failed", {"session_id": self._session_id, "error": error[:300]})

    async def _append(self, recording_id: str, chunk: _Chunk) -> None:
        try:
            await self._store.append(
                self._conversation_id, recording_id, chunk.offset, chunk.stereo
            )
        except RecordingRefused as exc:
            self._refused = True  # deleted with its conversation, or finished by the store
            self._drop("refused", str(exc))
        except StoreUnavailable as exc:
            self._drop("unavailable", str(exc))

    def _drop(self, reason: str, error: str | None = None) -> None:
        metrics.RECORDING_CHUNKS_DROPPED.labels(reason).inc()
        self.dropped += 1
        if self.dropped == 1:  # once per recording: the counter says how many
            self._log.warning(
                "recording_chunks_dropped",
                reason=reason,
                error=error,
                recording_id=self.recording_id,
            )
