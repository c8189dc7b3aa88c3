"""One token protects the stack: with `GATEWAY_TOKEN` set, the gateway's voice socket and
sessions API and the event-store's API and live stream refuse requests without it (HTTP 401
with a `detail`, WebSocket close 1008) and serve those with it; unset, all of them are open.
Sockets take it in the `Authorization` header only, never in the URL (browsers use tickets
instead: tests/security/test_tickets.py). Health, readiness and metrics stay open either way
(Prometheus scrapes them; nginx hides them).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from harness.services import StartEventStore, StartGateway, ws_url
from service_kit.access import SOCKET_REQUIRED_DETAIL
from stack import ManagedProcess

TOKEN = "tok-3f9c1e7a-only-for-this-test"
OPEN_ROUTES = ("/healthz", "/readyz", "/metrics")
DETAIL = "a valid token is required (Authorization: Bearer <token>)"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ws(process: ManagedProcess, path: str) -> str:
    return ws_url(process, path)


def _first_message(url: str, headers: dict[str, str] | None = None) -> dict[str, Any] | int:
    """The first JSON message on the socket, or the close code if it is closed first."""
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        try:
            frame = ws.recv(timeout=10)
        except ConnectionClosed:
            assert ws.close_code is not None
            return ws.close_code
        message: dict[str, Any] = json.loads(frame)
        return message


def _store_requests(document: dict[str, Any]) -> list[tuple[str, str]]:
    """Every HTTP operation the event-store documents, as (method, path) with ids filled in."""
    return [
        (method.upper(), path.replace("{conversation_id}", "c1"))
        for path, methods in document["paths"].items()
        for method in methods
    ]


@pytest.mark.parametrize("token_set", [True, False], ids=["token-set", "token-unset"])
def test_event_store_api_and_stream(start_event_store: StartEventStore, token_set: bool) -> None:
    store = start_event_store(**({"GATEWAY_TOKEN": TOKEN} if token_set else {}))
    good = _bearer(TOKEN) if token_set else {}
    with httpx.Client(base_url=store.spec.url, timeout=10) as http:
        created = http.post("/api/realtime/conversations", json={"id": "c1"}, headers=good)
        assert created.status_code == 201
        with_token = http.get("/api/realtime/conversations/c1/events", headers=good)
        assert with_token.status_code == 200
        assert http.get("/api/realtime/conversations", headers=good).json()[0]["id"] == "c1"
        operations = _store_requests(http.get("/openapi.json").json())
        protected = [op for op in operations if op[1] not in OPEN_ROUTES]
        assert len(protected) >= 9  # the conversation routes and dead letters
        for method, path in protected:
            for headers in ({}, _bearer("wrong"), {"Authorization": f"Basic {TOKEN}"}):
                response = http.request(method, path, headers=headers)
                if token_set:
                    assert response.status_code == 401, (method, path, headers)
                    assert response.json() == {"detail": DETAIL}
                    assert response.headers["www-authenticate"] == "Bearer"
                else:  # open: whatever the route answers (it may delete c1), never 401
                    assert response.status_code != 401, (method, path)
        for path in OPEN_ROUTES:
            assert http.get(path).status_code == 200, path

    stream = _ws(store, "/api/realtime/conversations/c1/stream")
    history = {"type": "history", "events": []}
    if token_set:
        assert _first_message(stream) == 1008
        assert _first_message(f"{stream}?token=wrong") == 1008
        assert _first_message(stream, _bearer("wrong")) == 1008
        assert _first_message(f"{stream}?token={TOKEN}") == 1008  # never in a URL
        assert _first_message(stream, _bearer(TOKEN)) == history
    else:
        assert _first_message(stream) == history


@pytest.mark.parametrize("token_set", [True, False], ids=["token-set", "token-unset"])
def test_gateway_sessions_api_and_voice_socket(
    start_gateway: StartGateway, token_set: bool
) -> None:
    gateway = start_gateway(**({"GATEWAY_TOKEN": TOKEN} if token_set else {}))
    good = _bearer(TOKEN) if token_set else {}
    voice = _ws(gateway, "/api/realtime/pipecat/ws/conv-auth")
    with httpx.Client(base_url=gateway.spec.url, timeout=10) as http:
        sessions = "/api/realtime/pipecat/sessions"
        stop = f"{sessions}/{'0' * 32}/stop"
        for headers in ({}, _bearer("wrong")):
            listed = http.get(sessions, headers=headers)
            stopped = http.post(stop, headers=headers)
            if token_set:
                assert (listed.status_code, stopped.status_code) == (401, 401)
                assert listed.json() == {"detail": DETAIL}
            else:
                assert (listed.status_code, stopped.status_code) == (200, 404)
        assert http.get(sessions, headers=good).json() == []
        assert http.post(stop, headers=good).status_code == 404  # past the token: no session
        for path in OPEN_ROUTES:
            assert http.get(path).status_code == 200, path

        if token_set:  # tickets, the browsers' way, are tested in test_tickets.py
            assert _first_message(voice) == 1008
            assert _first_message(voice, _bearer("wrong")) == 1008
            assert _first_message(f"{voice}?token={TOKEN}") == 1008
        with connect(voice, additional_headers=good, open_timeout=10) as ws:
            started = json.loads(ws.recv(timeout=10))
            assert (started["type"], started["state"]) == ("session", "started")
            [listed_session] = http.get(sessions, headers=good).json()
            assert listed_session["session_id"] == started["session_id"]


def test_token_guesses_count_against_the_connection_rate(start_gateway: StartGateway) -> None:
    """Refused attempts use up the address's new connections per minute, so a wrong token
    can be tried only that often; then even the right one waits."""
    gateway = start_gateway(GATEWAY_TOKEN=TOKEN, GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS="3")
    voice = _ws(gateway, "/api/realtime/pipecat/ws/conv-guess")
    reasons: list[str] = []
    for guess in ("a", "b", "c", TOKEN):
        with connect(voice, additional_headers=_bearer(guess), open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
            assert ws.close_code == 1008
            reasons.append(ws.close_reason or "")
    assert reasons[:3] == [SOCKET_REQUIRED_DETAIL] * 3
    assert reasons[3].startswith("too many new connections from your address")
