"""Hostile ids and parameters against a real event-store: path traversal, SQL metacharacters,
10 KB strings, NUL bytes, unicode, numbers past SQLite's range. Every one is refused with a
4xx (never a 5xx), and the database is unchanged afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from harness.services import StartEventStore, ws_url
from stack import ManagedProcess

BASE = "/api/realtime/conversations"
HOSTILE_IDS = [
    "../../etc/passwd",
    "..",
    "%2e%2e%2f",
    "..%2f..%2fetc%2fpasswd",
    "'; DROP TABLE conversation_events;--",
    "c1' OR '1'='1",
    "a" * 10_240,
    "nul\x00byte",
    "ünïcødé",
    "emoji-🎙",
    " leading-space",
    "-starts-with-dash",
]
TABLES = ("conversations", "conversation_events", "dead_letters")


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608 - fixed names


@pytest.fixture
def store(start_event_store: StartEventStore, tmp_path: Path) -> ManagedProcess:
    store = start_event_store(tmp_path / "hostile.db")
    with httpx.Client(base_url=store.spec.url) as http:
        assert http.post(BASE, json={"id": "c1", "name": "kept"}).status_code == 201
        event = {"source": "voice", "type": "transcript", "payload": {"text": "kept"}}
        assert http.post(f"{BASE}/c1/events", json=event).status_code == 201
    return store


def _requests(hostile: str) -> list[tuple[str, str, dict[str, object]]]:
    """(method, url, httpx kwargs): the id in the path (percent-encoded, as a client must send
    it), in bodies and in query parameters."""
    cid = quote(hostile, safe="")
    event = {"source": "voice", "type": "transcript"}
    return [
        ("GET", f"{BASE}/{cid}", {}),
        ("PUT", f"{BASE}/{cid}", {"json": {"name": "x"}}),
        ("DELETE", f"{BASE}/{cid}", {}),
        ("GET", f"{BASE}/{cid}/events", {}),
        ("POST", f"{BASE}/{cid}/events", {"json": event}),
        ("GET", f"{BASE}/{cid}/export", {"params": {"format": "markdown"}}),
        ("POST", BASE, {"json": {"id": hostile}}),
        ("POST", f"{BASE}/c1/events", {"json": {**event, "id": hostile}}),
        ("POST", f"{BASE}/c1/events", {"json": {"source": hostile, "type": "t"}}),
        ("POST", f"{BASE}/c1/events", {"json": {"source": "voice", "type": hostile}}),
        ("GET", f"{BASE}/c1/events", {"params": {"source": hostile}}),
        ("GET", f"{BASE}/c1/events", {"params": {"type": hostile}}),
        ("GET", f"{BASE}/c1/events", {"params": {"after": hostile}}),
        ("GET", f"{BASE}/c1/export", {"params": {"format": hostile}}),
    ]


def test_hostile_values_are_refused_and_change_nothing(
    store: ManagedProcess, tmp_path: Path
) -> None:
    db = tmp_path / "hostile.db"
    before = _counts(db)
    answers: dict[int, int] = {}
    with httpx.Client(base_url=store.spec.url, timeout=10) as http:
        for hostile in HOSTILE_IDS:
            for method, url, kwargs in _requests(hostile):
                response = http.request(method, url, **kwargs)  # type: ignore[arg-type]
                where = (method, url[:120], str(kwargs)[:120])
                assert 400 <= response.status_code < 500, (response.status_code, where)
                assert "detail" in response.json(), where
                answers[response.status_code] = answers.get(response.status_code, 0) + 1
        # Numbers past SQLite's INTEGER: refused, not a 500 from the driver.
        for after in (2**63, 2**64 + 1, -1):
            for url in (f"{BASE}/c1/events", f"{BASE}/c1", "/api/event-store/dead-letters"):
                response = http.get(url, params={"after": after})
                assert response.status_code == 422, (url, after, response.text)
        assert http.get(f"{BASE}/c1/events").json()[0]["payload"] == {"text": "kept"}
    assert _counts(db) == before
    assert set(answers) <= {404, 405, 422}, answers  # validation, not found, wrong method
    assert store.running()


def _stream_outcome(url: str) -> int:
    """The HTTP status refusing the handshake, or the close code once open."""
    try:
        with connect(url, open_timeout=10) as ws:
            ws.recv(timeout=10)
    except InvalidStatus as refused:
        return refused.response.status_code
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else 1006
    raise AssertionError(f"the stream sent a message for {url[:120]}")


# A 10 KB id is left out here: the WebSocket handshake of uvicorn 0.54 (websockets-sansio)
# never answers a request line over 8 KB (it logs a 414 it does not send); the HTTP routes
# above do answer 414. The id rules are the same code for both.
@pytest.mark.parametrize(
    "hostile", ["../../etc/passwd", "'; DROP TABLE x;--", "a" * 1000, "nul\x00"]
)
def test_hostile_ids_on_the_live_stream(store: ManagedProcess, hostile: str) -> None:
    base = ws_url(store, BASE)
    assert _stream_outcome(f"{base}/{quote(hostile, safe='')}/stream") in (403, 404, 1008)
    assert _stream_outcome(f"{base}/c1/stream?after={2**64}") == 403  # refused, not a crash
    assert store.running()
