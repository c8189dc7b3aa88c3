"""The web client in real Chromium, through nginx over TLS and wss, against the running stack.

A speech WAV is the microphone. The test watches what a person would (transcript, tool card
with the team's progress, the assistant heard, the conversation in the history) and what only
the machines see (frames with speech energy at the gateway and its upstream, audio energy on the
page's playback analyser, no frames while muted). Screenshots at desktop and phone sizes go to
.artifacts/e2e/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import BrowserContext, Page, expect
from prometheus_client.parser import text_string_to_metric_families

from fakes.openai_realtime import TOOL_CALL_TEXT
from harness.browser import chromium
from harness.speech import rms, silence, speech_pcm, write_wav
from harness.waiting import async_wait_until
from stack import ROOT

from .conftest import Front

SPOKEN = "Please ask the team to write a haiku about the sea."
ARTIFACTS = ROOT / ".artifacts" / "e2e"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 30_000


async def _stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("window.agenticVoice.stats()")
    return stats


async def _gateway_audio_in(front: Front) -> float:
    async with httpx.AsyncClient(base_url=front.gateway_url) as http:
        text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gateway_audio_bytes_total" and sample.labels["direction"] == "in":
                return sample.value
    return 0.0


async def _new_page(context: BrowserContext, problems: list[str]) -> Page:
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    return page


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _microphone(tmp_path: Path) -> Path:
    speech = speech_pcm(SPOKEN)
    assert rms(speech) > 1000, "the microphone's speech is not loud enough to be heard"
    # Chromium loops the file: one request, then a pause long enough for the whole answer.
    return write_wav(tmp_path / "microphone.wav", silence(500) + speech + silence(6000))


async def test_a_spoken_conversation_in_chromium(front: Front, tmp_path: Path) -> None:
    problems: list[str] = []
    async with chromium(_microphone(tmp_path)) as browser:
        desktop = await browser.new_context(ignore_https_errors=True, viewport=DESKTOP)
        page = await _new_page(desktop, problems)
        await page.goto(front.url + "/")
        await _shot(page, "desktop-list-empty")
        await page.get_by_test_id("new-conversation").click()
        await page.wait_for_url(re.compile(r"/voice/[A-Za-z0-9][\w.:-]*$"))
        conversation_id = page.url.rsplit("/", 1)[1]

        await page.get_by_test_id("start-stop").click()
        state = page.get_by_test_id("connection-state")
        await expect(state).to_have_text("connected", timeout=TIMEOUT_MS)
        await expect(page.get_by_test_id("start-stop")).to_have_attribute("aria-pressed", "true")

        # Frames of 20 ms with speech in them leave the page, and the upstream hears a voice.
        async def speech_sent() -> dict[str, Any] | None:
            stats = await _stats(page)
            return stats if stats["maxFrameRms"] > 0.02 else None

        stats = await async_wait_until(speech_sent, timeout_s=30, what="speech frames sent")
        assert (stats["frameSamples"], stats["frameMs"], stats["sampleRate"]) == (480, 20, 24000)
        turns = await front.realtime.async_wait_for(
            lambda: [
                t for c in front.realtime.connections() for t in c.user_turns() if t.transcript
            ],
            30,
            "a voiced user turn at the upstream",
        )
        assert turns[0].transcript == SPOKEN

        # The person sees their words, the tool card with the team's progress, and the answer.
        user_line = page.locator('[data-testid="transcript-line"][data-role="user"]')
        await expect(user_line.first).to_contain_text(SPOKEN, timeout=TIMEOUT_MS)
        card = page.locator('[data-testid="tool-card"][data-name="send_to_nested"]')
        await expect(card).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(card).to_contain_text(TOOL_CALL_TEXT)
        await expect(card.get_by_test_id("tool-progress").first).to_be_visible(timeout=TIMEOUT_MS)
        await expect(card).to_have_attribute("data-status", "done", timeout=TIMEOUT_MS)
        assistant_line = page.locator('[data-testid="transcript-line"][data-role="assistant"]')
        await expect(assistant_line.first).to_be_visible(timeout=TIMEOUT_MS)
        await expect(page.get_by_test_id("latency")).to_contain_text(
            re.compile(r"\d+\s*ms"), timeout=TIMEOUT_MS
        )

        # The assistant's audio really plays: the page's analyser reads its energy.
        async def heard() -> bool:
            return bool((await _stats(page))["playbackPeak"] > 0.05)

        await async_wait_until(heard, timeout_s=30, what="assistant audio on the analyser")

        # What was heard at the speakers, per turn, reaches the gateway and the debug view: the
        # answer to the user's words has a mouth-to-ear figure, measured in the page.
        async def a_user_turn_heard() -> float | None:
            return (await _stats(page))["lastMouthToEarMs"]

        ear_ms = await async_wait_until(a_user_turn_heard, timeout_s=30, what="a turn heard")
        assert 0 < ear_ms < 30_000
        await expect(page.get_by_test_id("heard")).to_be_visible()
        await page.get_by_test_id("heard").locator("summary").click()
        await expect(page.get_by_test_id("heard-buffer")).to_contain_text(re.compile(r"\d+ ms"))
        await _shot(page, "desktop-conversation")

        # Speaker mute silences what plays, not what arrives: the assistant keeps talking (the
        # looping microphone asks again) while the output after the gain stays at zero.
        await page.get_by_test_id("speaker-mute").click()
        await expect(page.get_by_test_id("speaker-mute")).to_have_attribute("aria-pressed", "true")

        async def playing_but_silent() -> bool:
            stats = await _stats(page)
            return bool(stats["playbackRms"] > 0.02 and stats["outputRms"] == 0)

        await async_wait_until(playing_but_silent, timeout_s=30, what="muted assistant audio")
        await page.get_by_test_id("speaker-mute").click()
        await expect(page.get_by_test_id("speaker-mute")).to_have_attribute("aria-pressed", "false")

        # Mute: once everything sent has arrived, nothing more is sent while a second passes.
        await page.get_by_test_id("mic-mute").click()
        await expect(page.get_by_test_id("mic-mute")).to_have_attribute("aria-pressed", "true")
        sent = (await _stats(page))["bytesSent"]

        async def all_arrived() -> bool:
            return await _gateway_audio_in(front) == sent

        await async_wait_until(all_arrived, timeout_s=10, what="sent audio at the gateway")
        dropped = (await _stats(page))["framesDroppedMuted"]

        async def a_second_muted() -> bool:
            return bool((await _stats(page))["framesDroppedMuted"] >= dropped + 50)

        await async_wait_until(a_second_muted, timeout_s=10, what="a second of muted frames")
        assert (await _stats(page))["bytesSent"] == sent
        assert await _gateway_audio_in(front) == sent

        await page.get_by_test_id("start-stop").click()
        await expect(page.get_by_test_id("start-stop")).to_have_attribute("aria-pressed", "false")
        await expect(state).to_have_text(re.compile("closed|idle"), timeout=TIMEOUT_MS)

        # The conversation is in the history, with its events, and exports.
        await page.goto(front.url + "/")
        row = page.locator(
            f'[data-testid="conversation-item"][data-conversation-id="{conversation_id}"]'
        )
        await expect(row).to_be_visible(timeout=TIMEOUT_MS)
        await _shot(page, "desktop-list")
        await row.get_by_test_id("open-history").click()
        events = page.get_by_test_id("history-event")
        await expect(events.filter(has_text=SPOKEN).first).to_be_visible(timeout=TIMEOUT_MS)
        await expect(events.filter(has_text=TOOL_CALL_TEXT).first).to_be_visible()
        await _shot(page, "desktop-history")
        export = await page.get_by_test_id("export-json").get_attribute("href")
        assert export is not None
        async with httpx.AsyncClient(base_url=front.event_store_url) as http:
            stored = (await http.get(f"/api/realtime/conversations/{conversation_id}")).json()
        heard_turns = [e["payload"] for e in stored["events"] if e["type"] == "client_stats"]
        assert any(t["mouth_to_ear_ms"] for t in heard_turns), heard_turns
        assert all(t["played_ms"] > 0 for t in heard_turns)
        exported = await page.request.get(export)
        assert exported.ok
        assert SPOKEN in await exported.text()

        phone = await browser.new_context(
            ignore_https_errors=True, viewport=PHONE, is_mobile=True, has_touch=True
        )
        small = await _new_page(phone, problems)
        for path, name in (
            ("/", "phone-list"),
            (f"/voice/{conversation_id}", "phone-conversation"),
        ):
            await small.goto(front.url + path)
            await small.wait_for_load_state("networkidle")
            await _shot(small, name)
        width = await small.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the conversation page scrolls sideways on a phone"

    assert problems == []
