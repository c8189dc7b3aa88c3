"""Pipecat's own browser SDK against the gateway, in real Chromium through nginx over wss.

`@pipecat-ai/client-js` 1.13 with `@pipecat-ai/websocket-transport` 1.7, from npm, on the page in
web/sdk-check/: the SDK's protobuf frames and its default 16 kHz mono microphone. The page is an
app of another origin, as a user's own SDK app would be (the SDK builds its audio worklets from
blob: URLs, which the product client's Content-Security-Policy rightly refuses on nginx's
origin); it connects to the stack through nginx, over wss. A speech WAV is the microphone. The
user must be heard (the upstream gets the words), the transcript and a tool call must reach the
SDK as server messages, and the assistant's audio must reach the SDK's player.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Page

from fakes.openai_realtime import TOOL_CALL_TEXT
from harness.browser import chromium
from harness.speech import rms, silence, speech_pcm, write_wav
from harness.static_site import static_site
from harness.waiting import async_wait_until

from .conftest import SDK_CHECK_ROOT, Front

SPOKEN = "Please ask the team to write a haiku about the sea."
TIMEOUT_S = 30.0


async def _seen(page: Page) -> dict[str, Any]:
    seen: dict[str, Any] = await page.evaluate("window.sdkCheck")
    return seen


def _of_type(seen: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [m for m in seen["serverMessages"] if m.get("type") == kind]


async def test_the_official_pipecat_sdk_is_heard_and_hears_the_assistant(
    front: Front, tmp_path: Path
) -> None:
    assert (SDK_CHECK_ROOT / "index.html").exists(), "`make test` builds web/dist-sdk (web-test)"
    speech = speech_pcm(SPOKEN)
    assert rms(speech) > 1000, "the microphone's speech is not loud enough to be heard"
    microphone = write_wav(tmp_path / "microphone.wav", silence(500) + speech + silence(6000))
    with static_site(SDK_CHECK_ROOT) as app:
        await _converse(front, app, microphone)


async def _converse(front: Front, app: str, microphone: Path) -> None:
    gateway = front.url.replace("https://", "wss://")
    problems: list[str] = []
    async with chromium(microphone) as browser:
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        console: list[str] = []  # the SDK logs what it does: shown when something fails
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        await page.goto(f"{app}/?conversation=sdk-check-1&gateway={gateway}")

        async def ready() -> dict[str, Any] | None:
            seen = await _seen(page)
            return seen if seen["ready"] or seen["errors"] else None

        what = "the SDK's bot-ready"
        seen = await async_wait_until(ready, timeout_s=TIMEOUT_S, what=what, detail=console)
        assert seen["errors"] == []

        # The user is heard: the upstream gets the SDK's 16 kHz audio as the words spoken.
        turns = await front.realtime.async_wait_for(
            lambda: [
                t for c in front.realtime.connections() for t in c.user_turns() if t.transcript
            ],
            TIMEOUT_S,
            "a voiced user turn at the upstream",
        )
        assert turns[0].transcript == SPOKEN

        # The transcript and the tool call reach the SDK as server messages, and the
        # assistant's audio reaches its player.
        async def answered() -> dict[str, Any] | None:
            seen = await _seen(page)
            calls = _of_type(seen, "function_call")
            return seen if calls and seen["botAudioSamples"] >= 24_000 else None

        what = "a tool call and the assistant's audio"
        seen = await async_wait_until(answered, timeout_s=TIMEOUT_S, what=what, detail=console)
        users = [m["text"] for m in _of_type(seen, "transcription") if m.get("role") == "user"]
        assert SPOKEN in users
        [call] = _of_type(seen, "function_call")
        assert (call["name"], call["arguments"]["text"]) == ("send_to_nested", TOOL_CALL_TEXT)
        assert seen["botAudioPeak"] > 1000, "the assistant's audio reached the player silent"
        refusals = [m for m in _of_type(seen, "error") if m.get("code") == "unsupported_audio"]
        assert refusals == []
        assert seen["errors"] == []
    assert problems == []
