"""Several devices in one conversation, in real Chromium through the real nginx front: a laptop
starts the session, a phone joins it as a speaker, or a kitchen speaker as a listener
(docs/protocol.md, Several devices).

Each device is a browser of its own, with its own microphone (a WAV that loops; the mic mute
decides who talks when). What a person would notice: both pages hear the assistant; when the
phone speaks, the laptop shows "Phone is speaking" and its transcript names the phone on that
line; the phone leaves and the laptop's session goes on (it speaks again, and is answered). What
only the machines see: one session and one brain upstream throughout, the phone counted as a
joined speaker, and the conversation's events saying it joined and left. A listener sees and hears
the answers without its page ever asking for the microphone, and leaves without the laptop's
session noticing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from harness.browser import chromium
from harness.metrics import metric
from harness.speech import rms, silence, speech_pcm, write_wav
from harness.waiting import async_wait_until

from .conftest import Front

LAPTOP_SAYS = "Please ask the team to write a haiku about the sea."
PHONE_SAYS = "Thank you."
# The tool_call scenario's user turns after the first are "Thank you.", answered so.
ANSWER = "You said: Thank you."
TIMEOUT_MS = 30_000
# Counts the page's requests for the microphone (getUserMedia), in `window.microphoneOpens`: run
# before the page's own scripts, in every page of these tests.
COUNT_MICROPHONE_OPENS = """
(() => {
  window.microphoneOpens = 0;
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const getUserMedia = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    window.microphoneOpens += 1;
    return getUserMedia(constraints);
  };
})();
"""

pytestmark = pytest.mark.timeout(300)


async def _stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = await page.evaluate("window.agenticVoice.stats()")
    return stats


async def _microphone_opens(page: Page) -> int:
    opens: int = await page.evaluate("window.microphoneOpens")
    return opens


async def _metric(front: Front, name: str, **labels: str) -> float:
    return await metric(front.gateway_url, name, **labels)


def _microphone(path: Path, text: str) -> Path:
    speech = speech_pcm(text)
    assert rms(speech) > 1000, "the microphone's speech is not loud enough to be heard"
    # Looped by Chromium: the words, then a pause longer than any answer here.
    return write_wav(path, silence(500) + speech + silence(10_000))


async def _page(browser: Browser, front: Front, device: str, problems: list[str]) -> Page:
    """A page of the client with this device's name set in Settings, as a person would."""
    context = await browser.new_context(ignore_https_errors=True)
    await context.add_init_script(COUNT_MICROPHONE_OPENS)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"{device}: page error: {error}"))
    page.on(
        "console",
        lambda m: problems.append(f"{device}: console: {m.text}") if m.type == "error" else None,
    )
    await page.goto(front.url + "/")
    await page.get_by_test_id("open-settings").click()
    await page.get_by_test_id("device-name-input").fill(device)
    await page.get_by_test_id("token-save").click()
    return page


def _lines(page: Page, role: str, device: str | None = None) -> Any:
    selector = f'[data-testid="transcript-line"][data-role="{role}"]'
    if device is not None:
        selector += f'[data-device="{device}"]'
    return page.locator(selector)


async def _session_events(front: Front, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's controller events (started, devices joined and left, ...), once the
    event-store has the session's end."""

    async def controller_events() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=front.event_store_url) as http:
            detail = (await http.get(f"/api/realtime/conversations/{conversation_id}")).json()
        events = [e for e in detail.get("events", []) if e["source"] == "controller"]
        return events if any(e["type"] == "session_stopped" for e in events) else []

    return await async_wait_until(controller_events, timeout_s=10, what="the session's end")


async def _one_session_joined_and_left(
    front: Front, conversation_id: str, device: str, role: str
) -> None:
    """One session and one brain all along, and its events say `device` joined and left."""
    assert len(front.realtime.connections()) == 1
    events = await _session_events(front, conversation_id)
    types = [e["type"] for e in events]
    assert types.count("session_started") == 1, types
    joined = [e["payload"] for e in events if e["type"] == "device_joined"]
    assert [(p["device"], p["role"]) for p in joined] == [(device, role)]
    assert [e["payload"]["device"] for e in events if e["type"] == "device_left"] == [device]


async def _new_conversation(page: Page) -> None:
    await page.get_by_test_id("new-conversation").click()
    await page.wait_for_url(re.compile(r"/voice/[A-Za-z0-9][\w.:-]*$"))


async def _mute(page: Page, muted: bool) -> None:
    toggle = page.get_by_test_id("mic-mute")
    if (await toggle.get_attribute("aria-pressed")) != str(muted).lower():
        await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", str(muted).lower())


async def test_a_second_device_joins_speaks_and_leaves(front: Front, tmp_path: Path) -> None:
    problems: list[str] = []
    laptop_mic = _microphone(tmp_path / "laptop.wav", LAPTOP_SAYS)
    phone_mic = _microphone(tmp_path / "phone.wav", PHONE_SAYS)
    async with chromium(laptop_mic) as laptop_browser, chromium(phone_mic) as phone_browser:
        # The laptop starts the session and has a first exchange on its own.
        laptop = await _page(laptop_browser, front, "Laptop", problems)
        await _new_conversation(laptop)
        conversation_id = laptop.url.rsplit("/", 1)[1]
        await expect(laptop.get_by_test_id("device-name")).to_have_text("Laptop")
        await laptop.get_by_test_id("start-stop").click()
        laptop_state = laptop.get_by_test_id("connection-state")
        await expect(laptop_state).to_have_text("connected", timeout=TIMEOUT_MS)
        await expect(_lines(laptop, "user").first).to_contain_text(LAPTOP_SAYS, timeout=TIMEOUT_MS)
        await _mute(laptop, True)  # its next words wait until the phone has spoken and left
        [upstream] = front.realtime.connections()
        alone = _lines(laptop, "user").first.get_by_test_id("line-speaker")
        await expect(alone).to_have_text("You")  # one device so far: nobody named

        # The phone opens the same conversation and joins the live session as a speaker, its
        # microphone muted until it is its turn.
        phone = await _page(phone_browser, front, "Phone", problems)
        await phone.goto(f"{front.url}/voice/{conversation_id}")
        await _mute(phone, True)
        await phone.get_by_test_id("join-role").select_option("speaker")
        await phone.get_by_test_id("join").click()
        phone_state = phone.get_by_test_id("connection-state")
        await expect(phone_state).to_have_text("connected", timeout=TIMEOUT_MS)
        await expect(phone.get_by_test_id("device-line")).to_contain_text(
            "joined the live session as a speaker"
        )
        await expect(phone.get_by_test_id("start-stop")).to_have_text(re.compile("Leave"))
        assert await _metric(front, "gateway_devices_joined_total", role="speaker") == 1
        chunks_before = (await _stats(laptop))["chunksReceived"]
        turns_before = len(upstream.user_turns())

        # The phone speaks: the laptop sees who holds the floor, then the phone's words named.
        await _mute(phone, False)
        floor = laptop.get_by_test_id("floor")
        await expect(floor).to_have_attribute("data-device", "Phone", timeout=TIMEOUT_MS)
        await expect(floor).to_have_text("Phone is speaking")
        from_phone = _lines(laptop, "user", "Phone")
        await expect(from_phone.first).to_contain_text(PHONE_SAYS, timeout=TIMEOUT_MS)
        await expect(from_phone.first.get_by_test_id("line-speaker")).to_have_text("Phone")
        await expect(alone).to_have_text("Laptop (you)")  # two devices now: each line named
        # The phone's words are named on its own page too, and the floor goes free again.
        on_the_phone = _lines(phone, "user", "Phone").first.get_by_test_id("line-speaker")
        await expect(on_the_phone).to_have_text("Phone (you)", timeout=TIMEOUT_MS)
        await expect(floor).to_have_count(0, timeout=TIMEOUT_MS)

        # Both hear the answer: its line on both pages, its audio played on both.
        for page in (laptop, phone):
            await expect(_lines(page, "assistant").filter(has_text=ANSWER).first).to_be_visible(
                timeout=TIMEOUT_MS
            )

        async def phone_heard() -> bool:
            return bool((await _stats(phone))["playbackPeak"] > 0.05)

        await async_wait_until(phone_heard, timeout_s=30, what="the answer played on the phone")
        assert (await _stats(phone))["framesSent"] > 0  # its microphone reached the gateway
        assert (await _stats(laptop))["chunksReceived"] > chunks_before
        assert len(upstream.user_turns()) == turns_before + 1  # the phone's turn, once

        # The phone leaves; the laptop's session goes on.
        await _mute(phone, True)
        await phone.get_by_test_id("start-stop").click()
        await expect(phone_state).to_have_text("closed", timeout=TIMEOUT_MS)
        await expect(phone.get_by_test_id("start-stop")).to_have_text(re.compile("Start"))
        await expect(laptop_state).to_have_text("connected")

        answered = await _lines(laptop, "assistant").filter(has_text=ANSWER).count()
        said = await _lines(laptop, "user").count()
        await _mute(laptop, False)
        await expect(_lines(laptop, "user")).to_have_count(said + 1, timeout=TIMEOUT_MS)
        named_after_leaving = await _lines(laptop, "user").last.get_attribute("data-device")
        await expect(_lines(laptop, "assistant").filter(has_text=ANSWER)).to_have_count(
            answered + 1, timeout=TIMEOUT_MS
        )
        await expect(laptop_state).to_have_text("connected")

        await laptop.get_by_test_id("start-stop").click()
        await expect(laptop_state).to_have_text(re.compile("closed|idle"), timeout=TIMEOUT_MS)

    await _one_session_joined_and_left(front, conversation_id, "Phone", "speaker")
    assert problems == []

    # The laptop's words after the phone left are its own.
    assert named_after_leaving == "Laptop"


async def test_a_listener_hears_the_answer_without_a_microphone(
    front: Front, tmp_path: Path
) -> None:
    problems: list[str] = []
    laptop_mic = _microphone(tmp_path / "laptop.wav", LAPTOP_SAYS)
    # The kitchen's browser has a microphone too (it speaks, loudly): its page must not ask for it.
    kitchen_mic = _microphone(tmp_path / "kitchen.wav", PHONE_SAYS)
    async with chromium(laptop_mic) as laptop_browser, chromium(kitchen_mic) as kitchen_browser:
        # The laptop starts the session and has a first exchange on its own.
        laptop = await _page(laptop_browser, front, "Laptop", problems)
        await _new_conversation(laptop)
        conversation_id = laptop.url.rsplit("/", 1)[1]
        await laptop.get_by_test_id("start-stop").click()
        laptop_state = laptop.get_by_test_id("connection-state")
        await expect(laptop_state).to_have_text("connected", timeout=TIMEOUT_MS)
        await expect(_lines(laptop, "user").first).to_contain_text(LAPTOP_SAYS, timeout=TIMEOUT_MS)
        await _mute(laptop, True)  # its next words wait until the listener is in
        [upstream] = front.realtime.connections()

        # The kitchen opens the conversation and joins the live session as a listener.
        kitchen = await _page(kitchen_browser, front, "Kitchen", problems)
        await kitchen.goto(f"{front.url}/voice/{conversation_id}")
        await kitchen.get_by_test_id("join-role").select_option("listener")
        await kitchen.get_by_test_id("join").click()
        kitchen_state = kitchen.get_by_test_id("connection-state")
        await expect(kitchen_state).to_have_text("connected", timeout=TIMEOUT_MS)
        await expect(kitchen.get_by_test_id("device-line")).to_contain_text(
            "joined the live session as a listener"
        )
        await expect(kitchen.get_by_test_id("start-stop")).to_have_text(re.compile("Leave"))
        kitchen_mic_toggle = kitchen.get_by_test_id("mic-mute")
        await expect(kitchen_mic_toggle).to_be_disabled()
        await expect(kitchen_mic_toggle).to_contain_text("No mic (listener)")
        assert await _metric(front, "gateway_devices_joined_total", role="listener") == 1
        # What the page loaded of the conversation so far has no answer to the laptop's next turn.
        assert await _lines(kitchen, "assistant").filter(has_text=ANSWER).count() == 0

        # The laptop speaks again: the kitchen sees its words, named, and sees and hears the answer.
        await _mute(laptop, False)
        from_laptop = _lines(kitchen, "user", "Laptop").filter(has_text=PHONE_SAYS)
        await expect(from_laptop.first).to_be_visible(timeout=TIMEOUT_MS)
        await expect(from_laptop.first.get_by_test_id("line-speaker")).to_have_text("Laptop")
        await _mute(laptop, True)  # that turn is over; the next waits until the kitchen left
        await expect(_lines(kitchen, "assistant").filter(has_text=ANSWER).first).to_be_visible(
            timeout=TIMEOUT_MS
        )

        async def kitchen_heard() -> bool:
            return bool((await _stats(kitchen))["playbackPeak"] > 0.05)

        await async_wait_until(kitchen_heard, timeout_s=30, what="the answer played in the kitchen")
        kitchen_stats = await _stats(kitchen)
        assert kitchen_stats["chunksReceived"] > 0
        assert kitchen_stats["framesSent"] == 0  # nothing of its own went out
        await expect(laptop.get_by_test_id("floor")).to_have_count(0)  # a listener takes no floor
        assert len(upstream.user_turns()) == 2  # the laptop's two turns, nothing from the kitchen

        # The kitchen leaves; the laptop's session goes on (it speaks again, and is answered).
        await kitchen.get_by_test_id("start-stop").click()
        await expect(kitchen_state).to_have_text("closed", timeout=TIMEOUT_MS)
        await expect(kitchen.get_by_test_id("start-stop")).to_have_text(re.compile("Start"))
        await expect(laptop_state).to_have_text("connected")
        answered = await _lines(laptop, "assistant").filter(has_text=ANSWER).count()
        said = await _lines(laptop, "user").count()
        await _mute(laptop, False)
        await expect(_lines(laptop, "user")).to_have_count(said + 1, timeout=TIMEOUT_MS)
        await expect(_lines(laptop, "assistant").filter(has_text=ANSWER)).to_have_count(
            answered + 1, timeout=TIMEOUT_MS
        )
        await expect(laptop_state).to_have_text("connected")

        # The laptop asked for its microphone once; the kitchen's page never did.
        assert await _microphone_opens(laptop) == 1
        assert await _microphone_opens(kitchen) == 0

        await laptop.get_by_test_id("start-stop").click()
        await expect(laptop_state).to_have_text(re.compile("closed|idle"), timeout=TIMEOUT_MS)

    await _one_session_joined_and_left(front, conversation_id, "Kitchen", "listener")
    assert problems == []
