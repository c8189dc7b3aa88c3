"""The HTTP API in-process (httpx over ASGI), with its real database and Redis."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from event_store.app import create_app
from event_store.settings import Settings

BASE = "/api/realtime/conversations"


@pytest.fixture
async def client(tmp_path: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(redis_url=redis_url, db_path=tmp_path / "api.db", body_max_bytes=4096)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_create_append_read_rename_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(BASE, json={"name": "Kitchen", "voice_model": "alloy"})
    assert created.status_code == 201
    cid = created.json()["id"]
    appended = await client.post(
        f"{BASE}/{cid}/events",
        json={"source": "voice", "type": "transcript", "payload": {"role": "user", "text": "hi"}},
    )
    assert appended.status_code == 201
    detail = (await client.get(f"{BASE}/{cid}")).json()
    assert detail["name"] == "Kitchen"
    assert [e["payload"]["text"] for e in detail["events"]] == ["hi"]
    assert (await client.put(f"{BASE}/{cid}", json={"name": "Lab"})).json()["name"] == "Lab"
    assert (await client.delete(f"{BASE}/{cid}")).status_code == 204
    assert (await client.get(f"{BASE}/{cid}")).status_code == 404


async def test_appending_with_a_known_event_id_is_refused(client: httpx.AsyncClient) -> None:
    await client.post(BASE, json={"id": "c1"})
    body = {"id": "ev1", "source": "voice", "type": "t"}
    assert (await client.post(f"{BASE}/c1/events", json=body)).status_code == 201
    again = await client.post(f"{BASE}/c1/events", json=body)
    assert again.status_code == 409
    assert "already stored" in again.json()["detail"]


async def test_an_event_timestamp_must_be_iso_text(client: httpx.AsyncClient) -> None:
    await client.post(BASE, json={"id": "c1"})
    event = {"source": "voice", "type": "t"}
    as_number = await client.post(f"{BASE}/c1/events", json={**event, "timestamp": 7587})
    assert as_number.status_code == 422
    assert "ISO 8601" in str(as_number.json()["detail"])
    as_text = {**event, "timestamp": "2026-12-02T10:00:00Z"}
    stored = await client.post(f"{BASE}/c1/events", json=as_text)
    assert stored.status_code == 201
    assert stored.json()["timestamp"].startswith("2026-12-02T10:00:00")


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"{BASE}/{'a' * 129}", None, 422),
        ("GET", f"{BASE}/bad%20id", None, 422),
        ("GET", f"{BASE}/..%2F..%2Fetc", None, 404),  # never reaches a handler as an id
        ("GET", f"{BASE}/x'%3B--", None, 422),
        ("GET", f"{BASE}?limit=0", None, 422),
        ("GET", f"{BASE}?limit=100000", None, 422),
        ("GET", f"{BASE}/missing", None, 404),
        ("POST", BASE, {"name": "x", "unknown": 1}, 422),
        ("POST", BASE, {"id": "../x"}, 422),
        ("POST", BASE, {"metadata": {"k": "v" * 20_000}}, 413),
        ("POST", f"{BASE}/cleanup?inactive_minutes=-1", None, 422),
        ("PUT", f"{BASE}/missing", {"name": "x"}, 404),
        ("DELETE", f"{BASE}/missing", None, 404),
    ],
)
async def test_bad_requests_get_a_4xx_with_a_reason(
    client: httpx.AsyncClient, method: str, path: str, body: object, status: int
) -> None:
    response = await client.request(method, path, json=body)
    assert response.status_code == status
    assert response.json()["detail"]


async def test_invalid_json_and_bad_event_fields(client: httpx.AsyncClient) -> None:
    await client.post(BASE, json={"id": "c1"})
    broken = await client.post(
        f"{BASE}/c1/events", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    naive = await client.post(
        f"{BASE}/c1/events",
        json={"source": "voice", "type": "t", "timestamp": "2026-01-01T00:00:00"},
    )
    assert naive.status_code == 422
    assert "timezone" in naive.text


async def test_operations_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/openapi.json")).json()["info"]["title"]
    metrics = (await client.get("/metrics")).text
    assert "event_store_events_ingested_total" in metrics
