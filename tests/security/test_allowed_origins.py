"""Allowed origins (`GATEWAY_ALLOWED_ORIGINS`): another site open in the user's browser may not
call the event-store's API, read its live stream or use the gateway's sessions API (the voice
socket's own check is in tests/integration/test_voice_gateway_sessions.py). Requests that carry
no `Origin` (curl, Prometheus) pass, and with no list set every origin does."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from harness.services import StartEventStore, StartGateway, ws_url

GOOD = "https://voice.example"
EVIL = {"Origin": "https://evil.example"}
STORE_ROUTES = ("/api/realtime/conversations", "/api/event-store/dead-letters")


@pytest.mark.parametrize("listed", [True, False], ids=["origins-set", "origins-unset"])
def test_event_store_refuses_other_origins(
    start_event_store: StartEventStore, listed: bool
) -> None:
    store = start_event_store(**({"GATEWAY_ALLOWED_ORIGINS": GOOD} if listed else {}))
    with httpx.Client(base_url=store.spec.url, timeout=10) as http:
        for path in STORE_ROUTES:
            assert http.get(path, headers={"Origin": GOOD}).status_code == 200
            assert http.get(path).status_code == 200  # no Origin: not a browser's request
            refused = http.get(path, headers=EVIL)
            if listed:
                assert (refused.status_code, refused.json()) == (
                    403, {"detail": "origin not allowed"},
                )  # fmt: skip
            else:
                assert refused.status_code == 200
        cleanup = http.post("/api/realtime/conversations/cleanup", headers=EVIL)
        assert cleanup.status_code == (403 if listed else 200)  # a cross-site POST

    stream = ws_url(store, "/api/realtime/conversations/c/stream")
    with connect(stream, additional_headers={"Origin": GOOD}, open_timeout=10) as ws:
        assert '"history"' in ws.recv(timeout=10)
    if listed:
        with (
            pytest.raises(InvalidStatus) as refused_ws,
            connect(stream, additional_headers=EVIL, open_timeout=10),
        ):
            pass
        assert refused_ws.value.response.status_code == 403
    else:
        with connect(stream, additional_headers=EVIL, open_timeout=10) as ws:
            assert '"history"' in ws.recv(timeout=10)


def test_gateway_sessions_api_refuses_other_origins(start_gateway: StartGateway) -> None:
    gateway = start_gateway(GATEWAY_ALLOWED_ORIGINS=GOOD)
    with httpx.Client(base_url=gateway.spec.url, timeout=10) as http:
        sessions = "/api/realtime/pipecat/sessions"
        assert http.get(sessions, headers={"Origin": GOOD}).status_code == 200
        assert http.get(sessions).status_code == 200
        assert http.get(sessions, headers=EVIL).status_code == 403
        assert http.post(f"{sessions}/{'0' * 32}/stop", headers=EVIL).status_code == 403
        assert http.get("/healthz", headers=EVIL).status_code == 200  # health stays open
