"""Debian's Chromium driven by Playwright, with a WAV file as its microphone.

Never `playwright install`: it downloads a browser, which this machine cannot. The flags are the
ones that let Chromium run headless in a container as root, with a fake camera and microphone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

from harness.host_network import browsing

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
)


@asynccontextmanager
async def chromium(microphone_wav: Path) -> AsyncIterator[Browser]:
    """A headless Chromium whose microphone plays `microphone_wav` in a loop. A WAV that
    Chromium cannot read silently gives zeros: callers check the audio that reached the page.
    No interface of this machine comes or goes while it is open (host_network.py says why)."""
    async with browsing(), async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*FLAGS, f"--use-file-for-fake-audio-capture={microphone_wav}"],
        )
        try:
            yield browser
        finally:
            await browser.close()
