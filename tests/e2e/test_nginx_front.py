"""The nginx front as browsers meet it: TLS, security headers, the client's routes and caching,
the APIs and the voice WebSocket proxied over wss, and a clear answer when a service is down."""

from __future__ import annotations

import asyncio
import json

import httpx
from websockets.asyncio.client import connect

from harness.front_checks import check_client_is_served

from .conftest import WEB_ROOT, Front


async def test_serves_the_client_with_security_headers_and_caching(front: Front) -> None:
    page = await check_client_is_served(front.url, front.tls())
    assert page == (WEB_ROOT / "index.html").read_text()


async def test_proxies_history_and_voice_over_wss_with_the_real_client_address(
    front: Front,
) -> None:
    async with httpx.AsyncClient(base_url=front.url, verify=front.tls()) as http:
        history = await http.get("/api/realtime/conversations")
    assert history.status_code == 200
    assert isinstance(history.json(), list)

    ws_url = front.url.replace("https://", "wss://") + "/api/realtime/pipecat/ws/conv-front"
    # From 127.0.0.2, claiming another address: the gateway must count the connection as
    # nginx saw it, or per-address limits could be dodged with a header.
    async with connect(
        ws_url,
        ssl=front.tls(),
        local_addr=("127.0.0.2", 0),
        additional_headers={"X-Forwarded-For": "203.0.113.9"},
    ) as ws:
        started = json.loads(await ws.recv())
        assert (started["type"], started["state"]) == ("session", "started")
        await ws.send(json.dumps({"type": "ping", "id": "through-nginx"}))
        await ws.send(bytes(960))  # 20 ms of silence, binary through the proxy

        async with asyncio.timeout(10):
            while not _is_pong(await ws.recv()):
                pass
        async with httpx.AsyncClient(base_url=front.gateway_url) as http:
            [session] = (await http.get("/api/realtime/pipecat/sessions")).json()
        assert session["conversation_id"] == "conv-front"
        assert session["client"] == "127.0.0.2"


def _is_pong(message: str | bytes) -> bool:
    return isinstance(message, str) and json.loads(message).get("type") == "pong"


async def test_a_service_that_is_down_gets_a_json_503(front: Front) -> None:
    front.event_store.kill()
    async with httpx.AsyncClient(base_url=front.url, verify=front.tls()) as http:
        response = await http.get("/api/realtime/conversations")
    assert response.status_code == 503
    assert "unavailable" in response.json()["detail"]
    assert response.headers["x-content-type-options"] == "nosniff"
