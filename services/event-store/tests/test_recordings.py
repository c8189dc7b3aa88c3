"""Recordings through the HTTP API in-process (httpx over ASGI), with a real SQLite database,
real files beside it and a real Redis: chunks in, FLAC out, bad input refused, files deleted
with their conversation."""

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from prometheus_client import REGISTRY

from event_store.app import create_app
from event_store.settings import Settings

BASE = "/api/realtime/conversations"
RATE = 24_000


def stereo(left: np.ndarray, right: np.ndarray) -> bytes:
    frames = np.empty((len(left), 2), dtype="<i2")
    frames[:, 0], frames[:, 1] = left, right
    return frames.tobytes()


def tone(frames: int, level: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-level, level, frames, dtype=np.int16)


def deleted_count(reason: str) -> float:
    value = REGISTRY.get_sample_value("event_store_recordings_deleted_total", {"reason": reason})
    return value or 0.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "events.db"


@pytest.fixture
async def client(db_path: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(redis_url=redis_url, db_path=db_path)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def _start(client: httpx.AsyncClient, cid: str = "c1", **body: str) -> str:
    started = await client.post(f"{BASE}/{cid}/recordings", json=body)
    assert started.status_code == 201, started.text
    assert started.json()["state"] == "recording"
    rid: str = started.json()["id"]
    return rid


async def _chunk(
    client: httpx.AsyncClient, cid: str, rid: str, offset: int, data: bytes
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{cid}/recordings/{rid}/chunks",
        params={"offset": offset},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


async def test_chunks_become_a_lossless_flac_with_dropped_chunks_left_silent(
    client: httpx.AsyncClient, db_path: Path
) -> None:
    rid = await _start(client, session_id="ab" * 16, started_at="2026-12-02T10:00:00.250000+00:00")
    first = stereo(tone(RATE, 8000, seed=1), np.zeros(RATE, dtype=np.int16))
    third = stereo(np.zeros(RATE // 2, dtype=np.int16), tone(RATE // 2, 8000, seed=2))
    assert (await _chunk(client, "c1", rid, 0, first)).status_code == 204
    # The second second never came (the gateway dropped it): the third lands at 2 s.
    assert (await _chunk(client, "c1", rid, 2 * RATE, third)).status_code == 204
    raw = db_path.parent / "recordings" / "c1" / f"{rid}.pcm"
    assert raw.stat().st_size == int(2.5 * RATE) * 4

    [listed] = (await client.get(f"{BASE}/c1/recordings")).json()
    assert (listed["state"], listed["duration_s"]) == ("recording", 2.5)
    finished = await client.post(f"{BASE}/c1/recordings/{rid}/finish")
    assert finished.status_code == 200
    body = finished.json()
    assert (body["state"], body["duration_s"], body["format"]) == ("finished", 2.5, "flac")
    assert (body["session_id"], body["channels"], body["sample_rate"]) == ("ab" * 16, 2, RATE)
    assert body["started_at"].startswith("2026-12-02T10:00:00.25")
    flac = db_path.parent / "recordings" / "c1" / f"{rid}.flac"
    assert not raw.exists()
    assert body["bytes"] == flac.stat().st_size

    response = await client.get(f"{BASE}/c1/recordings/{rid}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/flac"
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == body["bytes"]
    assert f'filename="recording-c1-{rid}.flac"' in response.headers["content-disposition"]
    decoded, rate = sf.read(io.BytesIO(response.content), dtype="int16")
    assert rate == RATE
    assert decoded.shape == (int(2.5 * RATE), 2)
    assert decoded[:RATE].tobytes() == first  # lossless, left the user, right the assistant
    assert not decoded[RATE : 2 * RATE].any()  # the dropped second: silence
    assert decoded[2 * RATE :].tobytes() == third

    part = await client.get(f"{BASE}/c1/recordings/{rid}", headers={"Range": "bytes=4-13"})
    assert part.status_code == 206
    assert part.content == response.content[4:14]
    assert part.headers["content-range"] == f"bytes 4-13/{body['bytes']}"


@pytest.mark.parametrize(
    ("size", "offset", "status"),
    [
        (3, 0, 400),  # odd length
        (6, 0, 400),  # whole samples, not whole stereo frames
        (5 * RATE * 4 + 4, 0, 413),  # over 5 s
        (4, 6 * 3600 * RATE, 413),  # past 6 h
        (4, -1, 422),
    ],
)
async def test_a_chunk_that_is_not_whole_frames_or_too_large_is_refused(
    client: httpx.AsyncClient, size: int, offset: int, status: int
) -> None:
    rid = await _start(client)
    refused = await _chunk(client, "c1", rid, offset, b"\x01" * size)
    assert refused.status_code == status
    assert "detail" in refused.json()
    [listed] = (await client.get(f"{BASE}/c1/recordings")).json()
    assert listed["duration_s"] == 0


async def test_unknown_finished_and_overlapping_are_refused(client: httpx.AsyncClient) -> None:
    frame = b"\x00\x01\x00\x02"
    assert (await client.get(f"{BASE}/missing/recordings")).status_code == 404
    assert (await _chunk(client, "c1", "0" * 32, 0, frame)).status_code == 404
    rid = await _start(client)
    assert (await _chunk(client, "c2", rid, 0, frame)).status_code == 404  # another conversation
    assert (await _chunk(client, "c1", "not-a-recording-id", 0, frame)).status_code == 422
    assert (await client.get(f"{BASE}/c1/recordings/{'0' * 32}")).status_code == 404
    assert (await _chunk(client, "c1", rid, 0, frame * 10)).status_code == 204
    overlapping = await _chunk(client, "c1", rid, 5, frame)
    assert overlapping.status_code == 409
    assert "already holds 10 frames" in overlapping.json()["detail"]
    still_recording = await client.get(f"{BASE}/c1/recordings/{rid}")
    assert still_recording.status_code == 409
    assert (await client.post(f"{BASE}/c1/recordings/{rid}/finish")).status_code == 200
    assert (await _chunk(client, "c1", rid, 10, frame)).status_code == 409
    assert (await client.post(f"{BASE}/c1/recordings/{rid}/finish")).status_code == 409
    bad_start = await client.post(f"{BASE}/c1/recordings", json={"started_at": 1764669600})
    assert bad_start.status_code == 422
    # Dates too far out to convert to UTC are kept at the nearest one that is (not a 500).
    for far, kept in (
        ("0001-01-01T00:00:00+14:00", "0001-01-01"),
        ("9999-12-31T23:59:59-14:00", "9999-12-31"),
    ):
        started = await client.post(f"{BASE}/far/recordings", json={"started_at": far})
        assert started.status_code == 201
        assert started.json()["started_at"].startswith(kept)
    assert (
        await client.post(f"{BASE}/c1/recordings", json={"session_id": "../x"})
    ).status_code == 422
    assert (await client.post(f"{BASE}/..%2Fx/recordings", json={})).status_code in (404, 422)


async def test_starting_a_recording_creates_its_conversation(client: httpx.AsyncClient) -> None:
    """The gateway may start recording before the session's first event is stored."""
    assert (await client.get(f"{BASE}/new-conv")).status_code == 404
    await _start(client, "new-conv")
    assert (await client.get(f"{BASE}/new-conv")).status_code == 200


async def test_deleting_a_conversation_deletes_its_recordings_files(
    client: httpx.AsyncClient, db_path: Path
) -> None:
    finished, recording = await _start(client), await _start(client)
    other = await _start(client, "c2")
    for rid in (finished, recording):
        assert (await _chunk(client, "c1", rid, 0, b"\x00\x10" * 960)).status_code == 204
    assert (await client.post(f"{BASE}/c1/recordings/{finished}/finish")).status_code == 200
    folder = db_path.parent / "recordings" / "c1"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{finished}.flac", f"{recording}.pcm"]
    )
    before = deleted_count("conversation")

    assert (await client.delete(f"{BASE}/c1")).status_code == 204
    assert not folder.exists()
    assert deleted_count("conversation") == before + 2
    assert (await client.get(f"{BASE}/c1/recordings")).status_code == 404
    assert (await client.get(f"{BASE}/c1/recordings/{finished}")).status_code == 404
    # A chunk still on its way for the deleted recording is refused, and recreates nothing.
    assert (await _chunk(client, "c1", recording, 960, b"\x00" * 4)).status_code == 404
    assert not folder.exists()
    # Other conversations keep theirs.
    assert (db_path.parent / "recordings" / "c2" / f"{other}.pcm").exists()


async def test_the_cleanup_of_inactive_conversations_deletes_their_recordings(
    client: httpx.AsyncClient, db_path: Path
) -> None:
    rid = await _start(client, "old", started_at="2020-01-01T00:00:00Z")
    await client.post(f"{BASE}/old/recordings/{rid}/finish")
    cleaned = await client.post(f"{BASE}/cleanup", params={"inactive_minutes": 60})
    assert cleaned.json()["deleted_ids"] == ["old"]
    assert not (db_path.parent / "recordings" / "old").exists()


async def test_the_openapi_documents_every_recording_route(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    chunks = paths[f"{BASE}/{{conversation_id}}/recordings/{{recording_id}}/chunks"]["post"]
    assert "interleaved stereo PCM16" in chunks["description"]
    assert {"400", "401", "404", "409", "413", "507"} <= set(chunks["responses"])
    audio = paths[f"{BASE}/{{conversation_id}}/recordings/{{recording_id}}"]["get"]
    assert "audio/flac" in audio["responses"]["200"]["content"]
    assert {"404", "409"} <= set(audio["responses"])
