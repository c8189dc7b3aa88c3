"""The web client with a shared token, in real Chromium through nginx: the person saves the token
in Settings; right before each voice socket the page asks the gateway for a ticket (the token in
an `Authorization` header) and opens the socket with `?ticket=`. The token is in no URL, and
neither it nor any ticket reaches a log the stack wrote, nginx's access log included."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Request, WebSocket, expect

from harness.browser import chromium
from harness.services import Processes
from harness.speech import silence, write_wav

from .conftest import Front

TOKEN = "e2etok-LEAKCANARY-9b1f3c7d5a2e"
TIMEOUT_MS = 30_000


@pytest.mark.parametrize("front", [{"GATEWAY_TOKEN": TOKEN}], indirect=True)
async def test_the_browser_opens_its_voice_socket_with_a_ticket(
    front: Front, processes: Processes, tmp_path: Path
) -> None:
    sockets: list[str] = []
    ticket_requests: list[Request] = []

    def on_request(request: Request) -> None:
        if urlsplit(request.url).path == "/api/realtime/pipecat/tickets":
            ticket_requests.append(request)

    def on_websocket(socket: WebSocket) -> None:
        sockets.append(socket.url)

    async with chromium(write_wav(tmp_path / "microphone.wav", silence(3000))) as browser:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        page.on("request", on_request)
        page.on("websocket", on_websocket)
        await page.goto(front.url + "/")
        await page.get_by_test_id("open-settings").click()
        await page.get_by_test_id("token-input").fill(TOKEN)
        await page.get_by_test_id("token-save").click()

        await page.get_by_test_id("new-conversation").click()
        await page.wait_for_url(re.compile(r"/voice/[A-Za-z0-9][\w.:-]*$"))
        conversation_id = page.url.rsplit("/", 1)[1]
        await page.get_by_test_id("start-stop").click()
        state = page.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=TIMEOUT_MS)
        await page.get_by_test_id("start-stop").click()
        await expect(state).to_have_text(re.compile("closed|idle"), timeout=TIMEOUT_MS)

        # The API still takes the token in its header: the conversation is listed.
        await page.goto(front.url + "/")
        row = page.locator(
            f'[data-testid="conversation-item"][data-conversation-id="{conversation_id}"]'
        )
        await expect(row).to_be_visible(timeout=TIMEOUT_MS)

        [asked] = ticket_requests
        assert asked.method == "POST"
        assert (await asked.all_headers())["authorization"] == f"Bearer {TOKEN}"
        assert asked.post_data_json == {"conversation_id": conversation_id, "purpose": "voice"}
    [socket_url] = sockets
    query = parse_qs(urlsplit(socket_url).query)
    assert set(query) == {"format", "ticket", "device"}, socket_url
    [ticket] = query["ticket"]
    assert TOKEN not in socket_url

    processes.stop_all()  # every log complete and closed
    logs = [p for folder in front.log_dirs for p in sorted(folder.glob("*.log"))]
    names = {p.name for p in logs}
    assert {"nginx-access.log", "voice-gateway.log", "event-store.log"} <= names, names
    access = next(p for p in logs if p.name == "nginx-access.log").read_text()
    assert f'"GET /api/realtime/pipecat/ws/{conversation_id} HTTP/1.1" 101' in access
    assert '"POST /api/realtime/pipecat/tickets HTTP/1.1" 200' in access
    leaks = {p.name: [s for s in (TOKEN, ticket) if s.encode() in p.read_bytes()] for p in logs}
    assert all(not found for found in leaks.values()), leaks
