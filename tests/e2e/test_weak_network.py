"""The web client over a weak network: the browser reaches nginx through the impairment relay
(harness/impairment.py), so every byte of the page, the API and the voice socket is delayed,
jittered or stalled on the way, as on a weak Wi-Fi link.

What is checked is behaviour, not speed (the figures are bench/audio_quality.py's): over a
jittery link the conversation still works and every turn is measured and reported; over a link
that stalls for longer than any jitter buffer, the listener's gaps are counted, reported and
stored, and the buffer grows in answer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from harness.browser import chromium
from harness.impairment import WEAK_WIFI, ImpairedLink, Impairment
from harness.speech import silence, speech_pcm, write_wav
from harness.waiting import async_wait_until

from .conftest import Front

SPOKEN = "Please ask the team to write a haiku about the sea."
TIMEOUT_MS = 60_000
START_BUFFER_MS = 100  # PLAYBACK_DEFAULTS in web/src/audio/player.ts
BUFFER_RANGE_MS = (40, 200)
# Longer than the largest jitter buffer, every two seconds: a turn of assistant audio (several
# seconds of it) cannot escape a gap.
STALLS = Impairment(delay_ms=20, stall_every_s=2.0, stall_ms=400)


async def _stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("window.agenticVoice.stats()")
    return stats


async def _converse(front: Front, link: ImpairedLink, microphone: Path) -> list[dict[str, Any]]:
    """One conversation through `link` until a user turn is heard; its stored client stats."""
    async with chromium(microphone) as browser:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        await page.goto(f"https://localhost:{link.port}/")
        await page.get_by_test_id("new-conversation").click()
        await page.wait_for_url(re.compile(r"/voice/[A-Za-z0-9][\w.:-]*$"))
        conversation_id = page.url.rsplit("/", 1)[1]
        await page.get_by_test_id("start-stop").click()
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            "connected", timeout=TIMEOUT_MS
        )

        async def a_user_turn_heard() -> float | None:
            return (await _stats(page))["lastMouthToEarMs"]

        await async_wait_until(a_user_turn_heard, timeout_s=60, what="a user turn heard")
        await page.get_by_test_id("start-stop").click()
        await expect(page.get_by_test_id("connection-state")).to_have_text(
            re.compile("closed|idle"), timeout=TIMEOUT_MS
        )

    async def stored() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=front.event_store_url) as http:
            response = await http.get(f"/api/realtime/conversations/{conversation_id}")
        events = response.json()["events"] if response.status_code == 200 else []
        heard = [e["payload"] for e in events if e["type"] == "client_stats"]
        return heard if any(t["mouth_to_ear_ms"] for t in heard) else []

    return await async_wait_until(stored, timeout_s=30, what="the turns' stats stored")


def _microphone(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "mic.wav", silence(500) + speech_pcm(SPOKEN) + silence(8000))


async def test_over_a_jittery_link_every_turn_is_heard_and_measured(
    front: Front, tmp_path: Path
) -> None:
    https_port = int(front.url.rsplit(":", 1)[1])
    async with ImpairedLink(https_port, down=WEAK_WIFI, up=WEAK_WIFI) as link:
        turns = await _converse(front, link, _microphone(tmp_path))
    assert all(t["played_ms"] > 0 for t in turns)
    assert all(BUFFER_RANGE_MS[0] <= t["buffer_ms"] <= BUFFER_RANGE_MS[1] for t in turns)


async def test_a_stalling_link_is_heard_as_gaps_that_are_counted_and_answered(
    front: Front, tmp_path: Path
) -> None:
    https_port = int(front.url.rsplit(":", 1)[1])
    async with ImpairedLink(https_port, down=STALLS) as link:
        turns = await _converse(front, link, _microphone(tmp_path))
    gapped = [t for t in turns if t["underruns"] > 0]
    assert gapped, turns
    assert all(t["underrun_ms"] > 0 for t in gapped)
    assert max(t["buffer_ms"] for t in gapped) > START_BUFFER_MS  # the buffer grew
