"""The session's recorder: the audio hooks only note chunks, the background task sends aligned
stereo chunks at their offsets, and a store that is away or slow costs chunks (counted, left
silent), never the session. The clock is injected; the store is a fake behind httpx's
MockTransport speaking the event-store's routes."""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY

from harness.waiting import async_wait_until
from voice_gateway.recordings.aligner import SAMPLE_RATE
from voice_gateway.recordings.recorder import SessionRecorder, tap
from voice_gateway.recordings.store_client import RecordingStoreClient

MS = SAMPLE_RATE // 1000
RID = "e" * 32


def chunk(value: int, ms: int = 20) -> bytes:
    return np.full(ms * MS, value, dtype="<i2").tobytes()


def dropped(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("gateway_recording_chunks_dropped_total", labels) or 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeStore:
    """The event-store's recording routes, in memory; `fail` decides per request."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self.chunks: list[tuple[int, bytes]] = []
        self.finished = 0
        self.fail: Callable[[httpx.Request], Awaitable[httpx.Response | None]] | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail is not None and (refused := await self.fail(request)) is not None:
            return refused
        path = request.url.path
        assert path.startswith("/api/realtime/conversations/conv-r/recordings")
        assert request.headers["authorization"] == "Bearer secret"
        if path.endswith("/recordings"):
            self.started.append(json.loads(request.content))
            return httpx.Response(201, json={"id": RID})
        if path.endswith("/chunks"):
            self.chunks.append((int(request.url.params["offset"]), request.content))
            return httpx.Response(204)
        assert re.search(r"/recordings/e{32}/finish$", path)
        self.finished += 1
        return httpx.Response(200, json={"id": RID, "state": "finished"})

    def audio(self) -> np.ndarray:
        """The recording as the store would hold it: chunks at their offsets, gaps silent."""
        end = max(offset + len(data) // 4 for offset, data in self.chunks)
        frames = np.zeros((end, 2), dtype="<i2")
        for offset, data in self.chunks:
            part = np.frombuffer(data, dtype="<i2").reshape(-1, 2)
            frames[offset : offset + len(part)] = part
        return frames


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def client(store: FakeStore) -> Any:
    from pydantic import SecretStr

    http = RecordingStoreClient(
        "http://store", SecretStr("secret"), transport=httpx.MockTransport(store.handle)
    )
    yield http
    await http.aclose()


def recorder(
    client: RecordingStoreClient, clock: Clock, events: list[tuple[str, dict[str, Any]]], **kw: Any
) -> SessionRecorder:
    return SessionRecorder(
        client,
        "conv-r",
        "a" * 32,
        on_event=lambda type_, payload: events.append((type_, payload)),
        hold_s=10.0,
        clock=clock,
        interval_s=0.01,
        **kw,
    )


async def rounds(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0.02)


async def until(condition: Callable[[], object], what: str) -> None:
    """Real time for the background task to do what the test waits for (a bound on a hang)."""

    async def probe() -> object:
        return condition()

    await async_wait_until(probe, what=what)


async def speak(recording: SessionRecorder, clock: Clock, seconds: float, value: int) -> None:
    """The user speaking in real time on the injected clock (no real waiting)."""
    for _ in range(round(seconds / 0.02)):
        clock.now += 0.02
        recording.user(chunk(value))


async def test_a_session_s_two_directions_arrive_aligned_and_the_recording_is_finished(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]
    recording = recorder(client, clock, events)
    await speak(recording, clock, 1.0, 0)  # the microphone's silence
    await speak(recording, clock, 0.5, 1)  # the user says something at 1.0..1.5 s
    await speak(recording, clock, 1.5, 0)
    await rounds()
    for _ in range(25):  # the assistant answers at 3.0..4.0 s
        recording.assistant(chunk(2, ms=40))
        clock.now += 0.04
    await speak(recording, clock, 0.5, 0)
    await until(lambda: store.chunks, "chunks sent while the session runs")
    await recording.close()

    assert store.started == [
        {"session_id": "a" * 32, "started_at": recording.started_at.isoformat()}
    ]
    assert store.finished == 1
    audio = store.audio()
    assert len(audio) == round(4.5 * SAMPLE_RATE)
    left, right = audio[:, 0], audio[:, 1]
    assert np.flatnonzero(left == 1)[0] / SAMPLE_RATE == pytest.approx(1.0, abs=0.001)
    assert np.count_nonzero(left == 1) == SAMPLE_RATE // 2
    assert np.flatnonzero(right == 2)[0] / SAMPLE_RATE == pytest.approx(3.0, abs=0.001)
    assert np.count_nonzero(right == 2) == SAMPLE_RATE
    assert not right[: 3 * SAMPLE_RATE].any()
    assert not left[np.flatnonzero(right)].any()  # nothing of one side in the other
    assert all(len(data) <= 2 * SAMPLE_RATE * 4 for _, data in store.chunks)
    assert [e[0] for e in events] == ["recording_started", "recording_stopped"]
    assert events[0][1]["recording_id"] == RID
    assert recording.ended_at is not None
    assert events[1][1] == {
        "recording_id": RID,
        "session_id": "a" * 32,
        "duration_s": 4.5,
        "ended_at": recording.ended_at.isoformat(),
        "dropped_chunks": 0,
        "finished": True,
    }


async def test_an_unreachable_store_costs_chunks_not_the_session(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]
    down = True

    async def away(request: httpx.Request) -> httpx.Response | None:
        if down and request.url.path.endswith("/chunks"):
            raise httpx.ConnectError("connection refused", request=request)
        return None

    store.fail = away
    before = dropped("unavailable")
    recording = recorder(client, clock, events)
    await speak(recording, clock, 3.0, 1)
    await until(lambda: dropped("unavailable") > before, "a chunk lost to the store being away")
    down = False  # the store is back: later chunks are kept at their offsets
    await speak(recording, clock, 3.0, 2)
    await rounds()
    await recording.close()

    assert dropped("unavailable") > before
    assert recording.dropped == dropped("unavailable") - before
    audio = store.audio()
    assert len(audio) == 6 * SAMPLE_RATE  # nothing shifted: the lost part is silence
    assert np.flatnonzero(audio[:, 0] == 2)[0] / SAMPLE_RATE == pytest.approx(3.0, abs=0.001)
    assert store.finished == 1
    assert events[-1][1]["dropped_chunks"] == recording.dropped > 0


async def test_a_store_that_answers_late_gets_what_waited_for_it(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]
    attempts = 0

    async def starting_late(request: httpx.Request) -> httpx.Response | None:
        nonlocal attempts
        if request.url.path.endswith("/recordings"):
            attempts += 1
            if attempts < 2:
                return httpx.Response(503, json={"detail": "starting"})
        return None

    store.fail = starting_late
    import voice_gateway.recordings.recorder as module

    module_retry = module.START_RETRY_S
    module.START_RETRY_S = 0.01
    try:
        recording = recorder(client, clock, events)
        await speak(recording, clock, 2.0, 1)
        await until(lambda: attempts >= 2, "the start tried again")
        await recording.close()
    finally:
        module.START_RETRY_S = module_retry
    assert attempts == 2
    assert len(store.audio()) == 2 * SAMPLE_RATE
    assert store.chunks[0][0] == 0


async def test_a_slow_store_fills_the_bounded_queue_and_chunks_are_dropped(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/chunks"):
            await release.wait()
        return None

    store.fail = slow
    before = dropped("queue_full")
    recording = recorder(client, clock, events, queue_chunks=2)
    for _ in range(10):  # 10 rounds of 2 s each while the store takes nothing
        await speak(recording, clock, 2.0, 1)
        await rounds(2)
    await until(lambda: dropped("queue_full") > before, "chunks dropped, the queue full")
    release.set()
    await recording.close()
    assert store.finished == 1
    assert len(store.audio()) == 20 * SAMPLE_RATE  # what was kept is where it belongs


async def test_a_recording_deleted_meanwhile_stops_being_sent(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]

    async def gone(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith(("/chunks", "/finish")):
            return httpx.Response(404, json={"detail": "no recording"})
        return None

    store.fail = gone
    recording = recorder(client, clock, events)
    await speak(recording, clock, 5.0, 1)
    await until(lambda: store.started, "the recording started")
    await rounds()
    await recording.close()
    assert store.finished == 0
    assert events[-1][1]["finished"] is False


async def test_the_hooks_after_close_are_ignored_and_close_twice_is_harmless(
    client: RecordingStoreClient, store: FakeStore
) -> None:
    clock, events = Clock(), []  # type: list[tuple[str, dict[str, Any]]]
    recording = recorder(client, clock, events)
    await speak(recording, clock, 1.0, 1)
    await recording.close()
    recording.user(chunk(9))
    recording.assistant(chunk(9))
    await recording.close()
    assert store.finished == 1
    assert not (store.audio() == 9).any()


def test_tap_calls_the_meter_then_the_recorder() -> None:
    calls: list[str] = []
    meter = lambda pcm: calls.append(f"meter {len(pcm)}")  # noqa: E731
    assert tap(meter, None) is meter
    both = tap(meter, lambda pcm: calls.append(f"recorder {len(pcm)}"))
    both(b"\x00\x00")
    assert calls == ["meter 2", "recorder 2"]
