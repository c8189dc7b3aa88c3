"""Audio quality at the listener's ear: the real web client in Chromium, over a clean and a weak
link, and Pipecat's own SDK.

    .venv/bin/python bench/audio_quality.py [--quick] [--sessions 10] [--turns 3]

The whole stack runs as `make run` runs it (real processes, nginx over TLS), with the OpenAI
Realtime double answering each turn (`reply`, audio at real speed). `--sessions` browser pages
talk at once, each with a looping speech WAV as its microphone, until each has heard `--turns`
answers to its own words; first over a clean link, then through the impairment relay
(tests/harness/impairment.py: 40 ms +- 30 ms each way, a weak Wi-Fi link). Each page measures
what it plays (web/src/audio/turnMeter.ts, session/earClock.ts) and reports per turn.

Keys (JSON on the last line):
- `clean_underruns_per_min`, `underruns_per_min`: gaps inside assistant turns per minute of
  assistant audio played, clean and jittery;
- `buffer_ms_p50`: the jitter buffer's depth at the end of each turn, jittery link;
- `ear_added_p95_ms`: mouth to ear minus the gateway's own `voice` latency for the same turn
  (the network and the player), jittery link; `clean_ear_added_p95_ms` likewise;
- `sdk_turns_ok`: "ok/tried" turns of `@pipecat-ai/client-js` (web/sdk-check) heard both ways.
Goal: 0 underruns per minute both ways, `buffer_ms_p50` <= 120, `ear_added_p95_ms` <= 80.
`--quick` (3 sessions, 2 turns) runs in under three minutes. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from fakes.openai_realtime import FakeRealtimeServer  # noqa: E402
from harness.browser import chromium  # noqa: E402
from harness.impairment import CLEAN, WEAK_WIFI, ImpairedLink, Impairment  # noqa: E402
from harness.redis_server import running_redis  # noqa: E402
from harness.services import Processes  # noqa: E402
from harness.speech import silence, speech_pcm, write_wav  # noqa: E402
from harness.static_site import static_site  # noqa: E402
from harness.stats import percentile  # noqa: E402
from stack import (  # noqa: E402
    event_store_spec,
    free_port,
    front_spec,
    tool_worker_spec,
    voice_gateway_spec,
)

WEB_ROOT = ROOT / "web" / "dist"
SDK_ROOT = ROOT / "web" / "dist-sdk"
SAYING = "Hello there, can you tell me something nice about the sea?"
TURN_TIMEOUT_S = 60.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _page_turns(browser: Any, url: str, turns: int) -> list[dict[str, Any]]:
    """One web-client session at `url` until `turns` answers to the user were heard."""
    context = await browser.new_context(ignore_https_errors=True)
    page = await context.new_page()
    await page.goto(url + "/")
    await page.get_by_test_id("new-conversation").click()
    await page.wait_for_url("**/voice/**")
    await page.get_by_test_id("start-stop").click()
    deadline = time.monotonic() + TURN_TIMEOUT_S * turns
    heard: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        stats = await page.evaluate("window.agenticVoice.stats()")
        heard = [t for t in stats["heardTurns"] if t["mouth_to_ear_ms"] is not None]
        if len(heard) >= turns:
            break
        await asyncio.sleep(0.5)  # polling the page's counters, not waiting for readiness
    all_turns: list[dict[str, Any]] = stats["heardTurns"]
    await page.get_by_test_id("start-stop").click()
    await context.close()
    return all_turns


async def _condition(
    front_port: int, impairment: Impairment, sessions: int, turns: int, mic: Path
) -> list[dict[str, Any]]:
    async with contextlib.AsyncExitStack() as stack:
        port = front_port
        if not impairment.clean:
            link = await stack.enter_async_context(
                ImpairedLink(front_port, down=impairment, up=impairment)
            )
            port = link.port
        browser = await stack.enter_async_context(chromium(mic))
        url = f"https://localhost:{port}"
        results = await asyncio.gather(*(_page_turns(browser, url, turns) for _ in range(sessions)))
    return [turn for page in results for turn in page]


async def _sdk_turn(front_port: int, mic: Path) -> bool:
    """One turn of Pipecat's own SDK: heard (the upstream's transcript) and answered (audio)."""
    gateway = f"wss://localhost:{front_port}"
    with static_site(SDK_ROOT) as app:
        async with chromium(mic) as browser:
            context = await browser.new_context(ignore_https_errors=True)
            page = await context.new_page()
            await page.goto(f"{app}/?conversation=bench-sdk&gateway={gateway}")
            deadline = time.monotonic() + TURN_TIMEOUT_S
            while time.monotonic() < deadline:
                seen = await page.evaluate("window.sdkCheck")
                users = [
                    m for m in seen["serverMessages"]
                    if m.get("type") == "transcription" and m.get("role") == "user"
                ]  # fmt: skip
                if users and seen["botAudioSamples"] >= 24_000 * 2:
                    return True
                await asyncio.sleep(0.5)
    return False


def _summary(turns: list[dict[str, Any]]) -> dict[str, Any]:
    played_min = sum(t["played_ms"] for t in turns) / 60_000
    by_user = [t for t in turns if t["mouth_to_ear_ms"] is not None and t["gateway_voice_ms"]]
    added = [t["mouth_to_ear_ms"] - t["gateway_voice_ms"] for t in by_user]
    return {
        "turns": len(turns),
        "user_turns": len(by_user),
        "played_s": round(played_min * 60, 1),
        "underruns": sum(t["underruns"] for t in turns),
        "underruns_per_min": round(sum(t["underruns"] for t in turns) / played_min, 2)
        if played_min
        else None,
        "underrun_ms_max": max((t["underrun_ms"] for t in turns), default=0),
        "buffer_ms_p50": statistics.median(t["buffer_ms"] for t in turns) if turns else None,
        "mouth_to_ear_p50_ms": round(statistics.median(t["mouth_to_ear_ms"] for t in by_user), 1)
        if by_user
        else None,
        "ear_added_p50_ms": round(statistics.median(added), 1) if added else None,
        "ear_added_p95_ms": round(percentile(added, 95), 1) if added else None,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    for root in (WEB_ROOT, SDK_ROOT):
        if not (root / "index.html").exists():
            sys.exit(f"no built page in {root}: run `make web` and `make web-test` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="av-audio-") as tmp:
        work = Path(tmp)
        mic = write_wav(work / "mic.wav", silence(500) + speech_pcm(SAYING) + silence(7000))
        processes = Processes(work / "logs")
        with (
            running_redis(work / "redis") as redis,
            FakeAgenticBackend(step_s=0.2) as agentic,
            FakeRealtimeServer(audio_speed=1.0) as realtime,
        ):
            try:
                store_port = free_port()
                processes.start(event_store_spec(store_port, redis.url, work / "events.db"))
                processes.start(
                    tool_worker_spec(free_port(), redis.url, {"AGENTIC_WS_URL": agentic.url})
                )
                gateway_port = free_port()
                processes.start(
                    voice_gateway_spec(
                        gateway_port,
                        redis.url,
                        {"OPENAI_API_KEY": "bench", "OPENAI_REALTIME_URL": realtime.url("reply")},
                    )
                )
                front_port = free_port()
                processes.start(
                    front_spec(
                        work / "front",
                        front_port,
                        gateway_port=gateway_port,
                        event_store_port=store_port,
                        web_root=WEB_ROOT,
                    )
                )
                log(f"clean link: {args.sessions} sessions x {args.turns} turns")
                clean = await _condition(front_port, CLEAN, args.sessions, args.turns, mic)
                log(f"weak link {WEAK_WIFI}: {args.sessions} sessions x {args.turns} turns")
                weak = await _condition(front_port, WEAK_WIFI, args.sessions, args.turns, mic)
                log("Pipecat's SDK")
                sdk_ok = sum([await _sdk_turn(front_port, mic) for _ in range(args.sdk_turns)])
            finally:
                processes.stop_all()
    clean_summary, weak_summary = _summary(clean), _summary(weak)
    return {
        "bench": "audio_quality",
        "sessions": args.sessions,
        "turns_per_session": args.turns,
        "underruns_per_min": weak_summary["underruns_per_min"],
        "buffer_ms_p50": weak_summary["buffer_ms_p50"],
        "ear_added_p95_ms": weak_summary["ear_added_p95_ms"],
        "clean_underruns_per_min": clean_summary["underruns_per_min"],
        "clean_ear_added_p95_ms": clean_summary["ear_added_p95_ms"],
        "sdk_turns_ok": f"{sdk_ok}/{args.sdk_turns}",
        "targets": {
            "underruns_per_min": 0,
            "buffer_ms_p50_max": 120,
            "ear_added_p95_ms_max": 80,
        },
        "clean": clean_summary,
        "weak": {**weak_summary, "link": str(WEAK_WIFI)},
        "wall_s": round(time.monotonic() - started, 1),
        "quick": args.quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 sessions, 2 turns: under 3 min")
    parser.add_argument("--sessions", type=int, help="browser sessions at once (default 10)")
    parser.add_argument("--turns", type=int, help="answers heard per session (default 3)")
    parser.add_argument("--sdk-turns", type=int, default=1, help="Pipecat SDK sessions")
    args = parser.parse_args()
    args.sessions = args.sessions or (3 if args.quick else 10)
    args.turns = args.turns or (2 if args.quick else 3)
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
