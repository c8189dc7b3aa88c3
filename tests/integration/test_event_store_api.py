"""Events XADDed to the stream arrive once, in order, and are readable through every route."""

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from websockets.sync.client import connect

from contracts import ConversationEvent
from harness.events import transcript_event, xadd_events
from harness.services import StartEventStore, ws_url
from harness.waiting import wait_until
from stack import ManagedProcess

BASE = "/api/realtime/conversations"
CONVERSATIONS = ("kitchen", "lab", "garage")
PER_CONVERSATION = 40


@pytest.fixture
def store(start_event_store: StartEventStore) -> ManagedProcess:
    return start_event_store()


@pytest.fixture
def http(store: ManagedProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=store.spec.url, timeout=10) as client:
        yield client


@pytest.fixture
def produced(redis_client: redis.Redis, http: httpx.Client) -> dict[str, list[ConversationEvent]]:
    """Interleaved events of three conversations, some delivered twice."""
    by_conversation = {
        cid: [transcript_event(cid, n, "user" if n % 2 else "assistant") for n in range(40)]
        for cid in CONVERSATIONS
    }
    interleaved = [
        by_conversation[cid][n] for n in range(PER_CONVERSATION) for cid in CONVERSATIONS
    ]
    xadd_events(redis_client, interleaved)
    xadd_events(redis_client, interleaved[::7])  # redelivered: must not be stored twice
    wait_until(lambda: _stored_count(http) == len(interleaved), what="all events stored")
    return by_conversation


def _stored_count(http: httpx.Client) -> int:
    return sum(c["event_count"] for c in http.get(BASE).json())


def _event_ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def test_every_event_is_stored_once_in_order_per_conversation(
    http: httpx.Client, produced: dict[str, list[ConversationEvent]]
) -> None:
    summaries = http.get(BASE).json()
    assert sorted(c["id"] for c in summaries) == sorted(CONVERSATIONS)
    for cid, events in produced.items():
        detail = http.get(f"{BASE}/{cid}", params={"limit": 1000}).json()
        assert _event_ids(detail["events"]) == [e.id for e in events]
        row_ids = [e["id"] for e in detail["events"]]
        assert row_ids == sorted(row_ids)


def test_events_route_pages_and_filters(
    http: httpx.Client, produced: dict[str, list[ConversationEvent]]
) -> None:
    expected = [e.id for e in produced["lab"]]
    pages: list[dict[str, Any]] = []
    while True:
        after = pages[-1]["id"] if pages else 0
        page = http.get(f"{BASE}/lab/events", params={"limit": 15, "after": after}).json()
        pages.extend(page)
        if len(page) < 15:
            break
    assert _event_ids(pages) == expected
    filtered = http.get(f"{BASE}/lab/events", params={"source": "voice", "type": "transcript"})
    assert _event_ids(filtered.json()) == expected
    assert http.get(f"{BASE}/lab/events", params={"source": "claude_code"}).json() == []


def test_exports_in_every_format(
    http: httpx.Client, produced: dict[str, list[ConversationEvent]]
) -> None:
    exported = http.get(f"{BASE}/garage/export", params={"format": "json"}).json()
    assert _event_ids(exported["events"]) == [e.id for e in produced["garage"]]
    assert [t["text"] for t in exported["transcript"]] == [f"utterance {n}" for n in range(40)]

    markdown = http.get(f"{BASE}/garage/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    said = [line for line in markdown.text.splitlines() if line.startswith("**")]
    assert len(said) == 40
    assert said[1].startswith("**User**")
    assert said[1].endswith(": utterance 1")

    text = http.get(f"{BASE}/garage/export", params={"format": "text"}).text
    assert [line.split(": ", 1)[1] for line in text.splitlines()[3:]] == [
        f"utterance {n}" for n in range(40)
    ]


def test_live_stream_sends_history_then_new_events(
    store: ManagedProcess,
    http: httpx.Client,
    redis_client: redis.Redis,
    produced: dict[str, list[ConversationEvent]],
) -> None:
    stream = ws_url(store, f"{BASE}/kitchen/stream?limit=1000")
    with connect(stream, open_timeout=5) as ws:
        history = json.loads(ws.recv(timeout=5))
        assert history["type"] == "history"
        assert _event_ids(history["events"]) == [e.id for e in produced["kitchen"]]
        fresh = [transcript_event("kitchen", n) for n in (100, 101)]
        xadd_events(redis_client, [transcript_event("lab", 100), *fresh])
        streamed = [json.loads(ws.recv(timeout=5)) for _ in fresh]
        posted = http.post(f"{BASE}/kitchen/events", json={"source": "controller", "type": "note"})
        streamed.append(json.loads(ws.recv(timeout=5)))
    assert [m["type"] for m in streamed] == ["event"] * 3
    assert [m["event"]["event_id"] for m in streamed] == [
        *(e.id for e in fresh),
        posted.json()["event_id"],
    ]


def test_rename_append_cleanup_and_delete(
    http: httpx.Client, produced: dict[str, list[ConversationEvent]]
) -> None:
    assert http.put(f"{BASE}/lab", json={"name": "Lab notes"}).json()["name"] == "Lab notes"
    appended = http.post(
        f"{BASE}/lab/events", json={"source": "controller", "type": "note", "payload": {"a": 1}}
    )
    assert appended.status_code == 201
    events = http.get(f"{BASE}/lab/events", params={"limit": 1000}).json()
    assert events[-1]["id"] == appended.json()["id"]
    assert len(events) == PER_CONVERSATION + 1

    cleanup = http.post(f"{BASE}/cleanup", params={"inactive_minutes": 60}).json()
    assert cleanup == {"deleted_count": 0, "deleted_ids": [], "inactive_minutes": 60}
    assert http.delete(f"{BASE}/garage").status_code == 204
    assert sorted(c["id"] for c in http.get(BASE).json()) == ["kitchen", "lab"]
