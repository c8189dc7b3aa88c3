"""The web image as browsers meet it, and what the volumes keep when the stack goes down."""

from __future__ import annotations

import json
import uuid

import httpx
from websockets.asyncio.client import connect

from harness.front_checks import check_client_is_served
from harness.waiting import async_wait_until

from .conftest import Deployment


async def test_the_web_image_serves_the_client_as_make_run_does(deployed: Deployment) -> None:
    """The same TLS, headers, routes and caching as `make run`'s nginx (tests/e2e), from the
    client the image built itself."""
    page = await check_client_is_served(deployed.url, deployed.tls())
    assert '<div id="root">' in page


async def _say_hello(deployed: Deployment, cid: str) -> None:
    """A short session: opened, pinged, closed (its start and stop are stored events)."""
    async with connect(f"{deployed.voice_url}/{cid}?format=raw", ssl=deployed.tls()) as ws:
        started = json.loads(await ws.recv())
        assert (started["type"], started["state"]) == ("session", "started")
        await ws.send(json.dumps({"type": "ping", "id": "hello"}))
        async for message in ws:
            if isinstance(message, str) and json.loads(message).get("type") == "pong":
                break


async def _stored_types(deployed: Deployment, cid: str) -> list[str]:
    async with httpx.AsyncClient(base_url=deployed.url, verify=deployed.tls()) as http:
        response = await http.get(f"/api/realtime/conversations/{cid}")
    return [e["type"] for e in response.json()["events"]] if response.status_code == 200 else []


async def test_conversations_outlive_down_and_up(deployed: Deployment) -> None:
    """`docker compose down` (volumes kept) and `up`: the history is all still there."""
    cid = f"volumes-{uuid.uuid4().hex[:8]}"
    await _say_hello(deployed, cid)

    async def ended() -> list[str]:
        types = await _stored_types(deployed, cid)
        return types if "session_stopped" in types else []

    before = await async_wait_until(ended, timeout_s=30, what="the session stored")
    deployed.stack.down(volumes=False)
    assert deployed.stack.ps() == []
    deployed.stack.up()
    assert await _stored_types(deployed, cid) == before
