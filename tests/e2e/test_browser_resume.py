"""Resume in real Chromium, through the real nginx front: the connection between the page and the
gateway is lost without a close frame (nginx stopped at once, as a crash or a restart would,
then started again on the same port), and the page carries the same session on.

What a person would notice: the state goes `reconnecting`, then `connected` again, and the next
thing they say is answered. What only the machines see: the gateway counts one detach and one
resume; the conversation's events hold one `session_started` (no second session, no second
upstream); every byte of microphone audio the page sent or kept while away reached the gateway
once.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, expect

from harness.browser import chromium
from harness.metrics import metric
from harness.services import Processes
from harness.speech import rms, silence, speech_pcm, write_wav
from harness.waiting import async_wait_until
from stack import front_spec

from .conftest import WEB_ROOT, Front

SPOKEN = "Please ask the team to write a haiku about the sea."
# The tool_call scenario's second user turn, and its scripted answer.
SECOND_ANSWER = "You said: Thank you."
TIMEOUT_MS = 30_000


async def _metric(front: Front, name: str, **labels: str) -> float:
    return await metric(front.gateway_url, name, **labels)


async def _stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("window.agenticVoice.stats()")
    return stats


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def _stop_front(front_dir: Path) -> None:
    """nginx's fast shutdown: every connection through it just ends, no WebSocket close frame
    either way (nginx does not speak WebSocket, it relays bytes)."""
    pid = int((front_dir / "nginx" / "nginx.pid").read_text())
    os.kill(pid, signal.SIGTERM)


def _restart_front(front: Front, front_dir: Path, processes: Processes) -> None:
    """The same front again, on the same port (started and waited on like the first)."""
    processes.start(
        front_spec(
            front_dir,
            _port(front.url),
            gateway_port=_port(front.gateway_url),
            event_store_port=_port(front.event_store_url),
            web_root=WEB_ROOT,
        )
    )


def _microphone(tmp_path: Path) -> Path:
    speech = speech_pcm(SPOKEN)
    assert rms(speech) > 1000, "the microphone's speech is not loud enough to be heard"
    # Chromium loops the file: a request, then a pause long enough for its answer; the next
    # loop is the conversation's next user turn.
    return write_wav(tmp_path / "microphone.wav", silence(500) + speech + silence(6000))


async def test_the_page_resumes_its_session_after_the_front_drops_it(
    front: Front, processes: Processes, tmp_path: Path
) -> None:
    front_dir = tmp_path / "front"  # where conftest's `front` rendered nginx's files
    problems: list[str] = []
    async with chromium(_microphone(tmp_path)) as browser:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        await page.goto(front.url + "/")
        await page.get_by_test_id("new-conversation").click()
        await page.wait_for_url(re.compile(r"/voice/[A-Za-z0-9][\w.:-]*$"))
        conversation_id = page.url.rsplit("/", 1)[1]

        await page.get_by_test_id("start-stop").click()
        state = page.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=TIMEOUT_MS)
        assistant = page.locator('[data-testid="transcript-line"][data-role="assistant"]')
        await expect(assistant.first).to_be_visible(timeout=TIMEOUT_MS)
        [upstream] = front.realtime.connections()
        turns_before = len(upstream.user_turns())

        # The front goes: the page and the gateway both see the connection end, no close frame.
        _stop_front(front_dir)
        await expect(state).to_have_text("reconnecting", timeout=TIMEOUT_MS)
        await async_wait_until(
            lambda: _metric(front, "gateway_sessions_detached_total"),
            timeout_s=30,
            what="the gateway's session detached, waiting for its client",
        )
        # While away the microphone goes on: its frames are kept for the resume.
        kept_from = (await _stats(page))["framesSent"]

        async def frames_kept() -> bool:
            stats = await _stats(page)
            return bool(stats["state"] == "reconnecting" and stats["framesSent"] >= kept_from + 25)

        await async_wait_until(frames_kept, timeout_s=10, what="half a second of audio kept")
        assert not (front_dir / "nginx" / "nginx.pid").exists(), "the old front still runs"

        _restart_front(front, front_dir, processes)
        await expect(state).to_have_text("connected", timeout=TIMEOUT_MS)
        await async_wait_until(
            lambda: _metric(front, "gateway_sessions_resumed_total"),
            timeout_s=10,
            what="the gateway's resume",
        )

        # The conversation goes on: the next user turn is heard and answered, in the same page.
        await expect(assistant.filter(has_text=SECOND_ANSWER).first).to_be_visible(
            timeout=TIMEOUT_MS
        )
        assert len(upstream.user_turns()) > turns_before

        # Every byte the page sent or kept reached the gateway, once: mute, then compare.
        await page.get_by_test_id("mic-mute").click()
        await expect(page.get_by_test_id("mic-mute")).to_have_attribute("aria-pressed", "true")
        sent = (await _stats(page))["bytesSent"]

        async def all_arrived() -> float:
            arrived = await _metric(front, "gateway_audio_bytes_total", direction="in")
            return arrived if arrived >= sent else 0.0

        assert await async_wait_until(all_arrived, timeout_s=10, what="the audio sent") == sent

        await page.get_by_test_id("start-stop").click()
        await expect(state).to_have_text(re.compile("closed|idle"), timeout=TIMEOUT_MS)

    assert await _metric(front, "gateway_sessions_resumed_total") == 1
    assert await _metric(front, "gateway_sessions_detached_total") == 1
    assert len(front.realtime.connections()) == 1  # one session, one brain: no second greeting

    # The controller's events, as the event-store keeps them (it trims the Redis stream of what
    # it stored, every second: the stream itself no longer holds them by now).
    async def controller_events() -> list[str]:
        async with httpx.AsyncClient(base_url=front.event_store_url) as http:
            detail = (await http.get(f"/api/realtime/conversations/{conversation_id}")).json()
        types = [e["type"] for e in detail.get("events", []) if e["source"] == "controller"]
        return types if "session_stopped" in types else []

    types = await async_wait_until(controller_events, timeout_s=10, what="the session's end")
    assert types.count("session_started") == 1, types
    assert types.count("session_resumed") == 1, types
    assert problems == []
