"""Session tickets across real processes: the gateway issues them for the token (in a header),
and a ticket opens one socket, once: the gateway's voice socket, on any replica, or the
event-store's live stream. A replayed, expired or misdirected ticket, and the token in a URL,
are refused with close 1008 and the reason; the refusals are counted by kind."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness.services import StartEventStore, StartGateway, ws_url
from harness.waiting import async_wait_until
from service_kit.access import SOCKET_REQUIRED_DETAIL, TOKEN_IN_URL_DETAIL
from service_kit.tickets import redis_key
from stack import ManagedProcess

TOKEN = "tok-5d2e8f1a-tickets-only"
TICKETS = "/api/realtime/pipecat/tickets"
GOOD = {"Authorization": f"Bearer {TOKEN}"}
USED = "the ticket was already used; ask for a new one"
EXPIRED = "the ticket is unknown or has expired; ask for a new one"


def _ticket(gateway: ManagedProcess, cid: str, purpose: str = "voice") -> str:
    response = httpx.post(
        f"{gateway.spec.url}{TICKETS}",
        json={"conversation_id": cid, "purpose": purpose},
        headers=GOOD,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


def _voice(gateway: ManagedProcess, cid: str, query: str = "") -> str:
    return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}{query}")


def _outcome(url: str, headers: dict[str, str] | None = None) -> dict[str, Any] | tuple[int, str]:
    """The first JSON message on the socket, or its close code and reason if it is closed
    first."""
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        try:
            message: dict[str, Any] = json.loads(ws.recv(timeout=10))
        except ConnectionClosed:
            assert ws.close_code is not None
            return ws.close_code, ws.close_reason or ""
        return message


def _refused_by_kind(gateway: ManagedProcess) -> dict[str, float]:
    text = httpx.get(f"{gateway.spec.url}/metrics", timeout=10).text
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_sessions_refused_total"
    }


def test_a_ticket_is_issued_only_for_the_token_and_a_valid_body(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway(GATEWAY_TOKEN=TOKEN, GATEWAY_ALLOWED_ORIGINS="https://voice.example")
    body = {"conversation_id": "conv-1", "purpose": "voice"}
    with httpx.Client(base_url=gateway.spec.url, timeout=10) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = http.post(TICKETS, json=body, headers=headers)
            assert refused.status_code == 401
            assert refused.json() == {
                "detail": "a valid token is required (Authorization: Bearer <token>)"
            }
        # Without the token, nothing about the body is said: 401 before any validation.
        assert http.post(TICKETS, json={"purpose": "admin"}).status_code == 401
        evil = {**GOOD, "Origin": "https://evil.example"}
        assert http.post(TICKETS, json=body, headers=evil).status_code == 403

        for bad, field in [
            ({}, "conversation_id"),
            ({"purpose": "voice"}, "conversation_id"),
            ({"conversation_id": "conv-1"}, "purpose"),
            ({"conversation_id": "a/b", "purpose": "voice"}, "conversation_id"),
            ({"conversation_id": "x" * 129, "purpose": "voice"}, "conversation_id"),
            ({"conversation_id": "conv-1", "purpose": "admin"}, "purpose"),
            ({**body, "ttl_s": 3600}, "ttl_s"),  # a client does not choose how long
        ]:
            response = http.post(TICKETS, json=bad, headers=GOOD)
            assert response.status_code == 422, bad
            assert field in [error["loc"][-1] for error in response.json()["detail"]], bad
        not_json = http.post(TICKETS, content=b"{oops", headers=GOOD)
        assert not_json.status_code == 422

        granted = http.post(TICKETS, json=body, headers=GOOD)
        assert granted.status_code == 200
        assert set(granted.json()) == {"ticket", "expires_in_s"}
        assert granted.json()["expires_in_s"] == 30
        assert TOKEN not in granted.text


def test_a_ticket_opens_one_voice_socket_once(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_TOKEN=TOKEN)
    ticket = _ticket(gateway, "conv-a")
    with connect(_voice(gateway, "conv-a", f"?format=raw&ticket={ticket}"), open_timeout=10) as ws:
        started = json.loads(ws.recv(timeout=10))
        assert (started["type"], started["state"]) == ("session", "started")
        # The same ticket again, while its session runs: refused.
        assert _outcome(_voice(gateway, "conv-a", f"?ticket={ticket}")) == (1008, USED)
        [listed] = httpx.get(
            f"{gateway.spec.url}/api/realtime/pipecat/sessions", headers=GOOD, timeout=10
        ).json()
        assert listed["session_id"] == started["session_id"]

    assert _outcome(_voice(gateway, "conv-a", f"?ticket={ticket}")) == (1008, USED)
    elsewhere = _ticket(gateway, "conv-a")
    assert _outcome(_voice(gateway, "conv-b", f"?ticket={elsewhere}")) == (
        1008, "the ticket is for another conversation",
    )  # fmt: skip
    for_the_stream = _ticket(gateway, "conv-a", "events")
    assert _outcome(_voice(gateway, "conv-a", f"?ticket={for_the_stream}")) == (
        1008, "the ticket is for the events socket, not voice",
    )  # fmt: skip
    assert _outcome(_voice(gateway, "conv-a", "?ticket=not-a-ticket")) == (
        1008, "the ticket is malformed",
    )  # fmt: skip
    assert _outcome(_voice(gateway, "conv-a")) == (1008, SOCKET_REQUIRED_DETAIL)

    # The token in the URL is refused even when it is right, with or without a ticket.
    fresh = _ticket(gateway, "conv-a")
    for query in (f"?token={TOKEN}", f"?ticket={fresh}&token={TOKEN}"):
        assert _outcome(_voice(gateway, "conv-a", query)) == (1008, TOKEN_IN_URL_DETAIL)
    # Programs keep the header.
    started = _outcome(_voice(gateway, "conv-a"), GOOD)
    assert isinstance(started, dict)
    assert started["state"] == "started"

    refused = _refused_by_kind(gateway)
    assert (refused["ticket"], refused["token"]) == (5, 3)


def test_a_ticket_from_one_replica_opens_a_socket_on_another(start_gateway: StartGateway) -> None:
    issuer, other = start_gateway(GATEWAY_TOKEN=TOKEN), start_gateway(GATEWAY_TOKEN=TOKEN)
    ticket = _ticket(issuer, "conv-r")
    started = _outcome(_voice(other, "conv-r", f"?ticket={ticket}"))
    assert isinstance(started, dict)
    assert started["state"] == "started"
    assert _outcome(_voice(issuer, "conv-r", f"?ticket={ticket}")) == (1008, USED)


async def test_an_expired_ticket_is_refused(start_gateway: StartGateway, redis: Redis) -> None:
    gateway = start_gateway(GATEWAY_TOKEN=TOKEN, GATEWAY_TICKET_TTL_S="0.5")
    ticket = _ticket(gateway, "conv-x")
    assert await redis.pttl(redis_key(ticket)) > 0

    async def expired() -> bool:
        return not await redis.exists(redis_key(ticket))

    await async_wait_until(expired, timeout_s=5, what="the ticket to expire")
    assert _outcome(_voice(gateway, "conv-x", f"?ticket={ticket}")) == (1008, EXPIRED)


def test_without_a_token_set_nothing_is_needed(start_gateway: StartGateway) -> None:
    gateway = start_gateway()
    for query in ("", f"?token={TOKEN}", "?ticket=anything-at-all"):
        started = _outcome(_voice(gateway, f"conv-open{len(query)}", query))
        assert isinstance(started, dict), query
        assert started["state"] == "started"


@pytest.mark.parametrize("via", ["ticket", "header"])
def test_the_live_stream_opens_with_a_gateway_ticket(
    start_gateway: StartGateway, start_event_store: StartEventStore, via: str
) -> None:
    gateway = start_gateway(GATEWAY_TOKEN=TOKEN)
    store = start_event_store(GATEWAY_TOKEN=TOKEN)
    stream = ws_url(store, "/api/realtime/conversations/conv-s/stream")
    history = {"type": "history", "events": []}
    if via == "header":  # programs
        assert _outcome(stream, GOOD) == history
        return
    ticket = _ticket(gateway, "conv-s", "events")
    assert _outcome(f"{stream}?limit=10&ticket={ticket}") == history
    assert _outcome(f"{stream}?ticket={ticket}") == (1008, USED)
    for_voice = _ticket(gateway, "conv-s", "voice")
    assert _outcome(f"{stream}?ticket={for_voice}") == (
        1008, "the ticket is for the voice socket, not events",
    )  # fmt: skip
    other = _ticket(gateway, "conv-other", "events")
    assert _outcome(f"{stream}?ticket={other}") == (1008, "the ticket is for another conversation")
    assert _outcome(f"{stream}?token={TOKEN}") == (1008, TOKEN_IN_URL_DETAIL)
    assert _outcome(stream) == (1008, SOCKET_REQUIRED_DETAIL)
