"""Crashes and restarts: nothing lost, nothing stored twice; malformed input set aside."""

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import redis

from contracts.keys import EVENT_STORE_GROUP, EVENTS_STREAM
from harness.events import transcript_event, xadd_events
from harness.redis_server import RedisServer
from harness.services import StartEventStore
from harness.waiting import wait_until

N = 30_000


def _rows(db: Path) -> tuple[int, int]:
    """(rows, distinct event ids) read straight from the SQLite file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM conversation_events"
        ).fetchone()
        return int(row[0]), int(row[1])
    except sqlite3.OperationalError:  # schema not created yet
        return 0, 0
    finally:
        conn.close()


def _pending(client: redis.Redis) -> int:
    summary: Any = client.xpending(EVENTS_STREAM, EVENT_STORE_GROUP)
    return int(summary["pending"])


def test_sigkill_mid_ingest_then_restart_stores_exactly_n(
    start_event_store: StartEventStore, redis_client: redis.Redis, tmp_path: Path
) -> None:
    db = tmp_path / "crash.db"
    client = redis_client
    events = [transcript_event(f"c{i % 7}", i) for i in range(N)]
    store = start_event_store(db_path=db, EVENT_STORE_BATCH_MAX="500")
    xadd_events(client, events)

    rows_at_kill = wait_until(lambda: _rows(db)[0], what="first committed batch")
    store.kill()
    assert rows_at_kill < N, "the kill must land mid-ingest for this test to mean anything"
    assert _pending(client) > 0 or _rows(db)[0] < N

    start_event_store(db_path=db)
    wait_until(lambda: _rows(db)[0] >= N and _pending(client) == 0, timeout_s=60, what="all rows")
    assert _rows(db) == (N, N)


def test_redis_restart_under_it(
    start_event_store: StartEventStore, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    store = start_event_store()
    http = httpx.Client(base_url=store.spec.url, timeout=5)
    xadd_events(redis_client, [transcript_event("c", n) for n in range(10)])
    wait_until(lambda: http.get("/api/realtime/conversations/c").status_code == 200)

    redis_server.stop()
    wait_until(lambda: http.get("/readyz").status_code == 503, what="readyz reports Redis gone")
    assert http.get("/healthz").status_code == 200  # the API itself stays up
    redis_server.start()

    wait_until(lambda: http.get("/readyz").status_code == 200, timeout_s=20, what="reconnected")
    xadd_events(redis_client, [transcript_event("c", n) for n in range(10, 20)])
    wait_until(
        lambda: http.get("/api/realtime/conversations/c").json()["event_count"] == 20,
        timeout_s=20,
        what="events after the restart",
    )
    http.close()


def test_malformed_entries_are_set_aside_and_never_block(
    start_event_store: StartEventStore, redis_client: redis.Redis
) -> None:
    store = start_event_store()
    client = redis_client
    bad_entries: list[dict[str, str | bytes]] = [
        {"event": "{not json"},
        {"event": '{"conversation_id": "c"}'},
        {"event": '{"conversation_id": "../../etc", "source": "voice", "type": "t"}'},
        {"event": b"\xff\xfe invalid utf-8"},
        {"something": "else"},
        {"event": '{"conversation_id": "c", "source": "voice", "type": "t", "payload": []}'},
    ]
    good = [transcript_event("c", n) for n in range(6)]
    for bad, event in zip(bad_entries, good, strict=True):
        client.xadd(EVENTS_STREAM, bad)  # type: ignore[arg-type]
        xadd_events(client, [event])
    http = httpx.Client(base_url=store.spec.url, timeout=5)
    request = http.get
    wait_until(
        lambda: len(request("/api/event-store/dead-letters").json()) == len(bad_entries),
        what="dead letters",
    )
    events = http.get("/api/realtime/conversations/c/events").json()
    assert [e["event_id"] for e in events] == [e.id for e in good]
    assert _pending(client) == 0
    metrics = http.get("/metrics").text
    dead = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("event_store_events_dead_lettered_total")
    )
    assert dead == len(bad_entries)
    assert http.get("/readyz").status_code == 200
    http.close()


HOSTILE_REQUESTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/api/realtime/conversations/" + "x" * 10_000, {}, 422),
    ("GET", "/api/realtime/conversations/a%27%20OR%201%3D1", {}, 422),
    ("GET", "/api/realtime/conversations/..%2F..%2Fetc%2Fpasswd", {}, 404),
    ("GET", "/api/realtime/conversations?limit=abc", {}, 422),
    ("GET", "/api/realtime/conversations/c?after=-5", {}, 422),
    ("GET", "/api/realtime/conversations/c/events?type=" + "t" * 500, {}, 422),
    ("GET", "/api/realtime/conversations/c/export?format=pdf", {}, 422),
    ("POST", "/api/realtime/conversations", {"content": b"[1,2"}, 422),
    ("POST", "/api/realtime/conversations", {"content": b"x" * 600_000}, 413),
    ("POST", "/api/realtime/conversations", {"json": {"name": ""}}, 422),
    ("POST", "/api/realtime/conversations/c/events", {"json": {"source": "Bad Source"}}, 422),
    ("PUT", "/api/realtime/conversations/c", {"json": {"metadata": "no"}}, 422),
]


def test_malformed_requests_get_4xx_and_the_service_stays_up(
    start_event_store: StartEventStore,
) -> None:
    store = start_event_store()
    with httpx.Client(base_url=store.spec.url, timeout=5) as http:
        assert http.post("/api/realtime/conversations", json={"id": "c"}).status_code == 201
        for method, path, kwargs, status in HOSTILE_REQUESTS:
            response = http.request(method, path, **kwargs)
            case = f"{method} {path[:80]}"
            assert response.status_code == status, case
            assert response.json()["detail"], case
            assert http.get("/readyz").status_code == 200, case
        assert http.get("/api/realtime/conversations/c").json()["event_count"] == 0
    assert store.running()
