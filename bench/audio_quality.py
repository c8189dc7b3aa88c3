"""Audio quality at the listener's ear: many sessions over a clean and a weak link, measured
with the web client's own player, a few real browsers beside them, and Pipecat's own SDK.

    .venv/bin/python bench/audio_quality.py [--quick] [--sessions 10] [--browsers 2] [--turns 3]

The whole stack runs as `make run` runs it (real processes, nginx over TLS), with the OpenAI
Realtime double answering each turn (`reply`, in a process of its own). Each condition runs in
turn: a clean link; the impairment relay (tests/harness/impairment.py: 40 ms +- 30 ms each way,
a weak Wi-Fi link); and that relay behind a bandwidth cap (`--cap-kbit`, default 6 Mbit/s each
way: tests/harness/capped_link.py, listeners only, in a network namespace; needs root).

- `--sessions` listeners (tests/harness/ear_trace.py) talk at once on the raw format, each a
  looping utterance as its microphone, until each has heard `--turns` answers to its own words.
  Each writes down when every chunk of the answer arrived; the traces are replayed into the web
  client's player (web/src/audio/replay.ts: the same queue and jitter buffer as the playback
  worklet), which says what the ear heard. Ten Chromium pages on two cores would measure their
  own CPU starvation instead (docs/benchmarks.md).
- `--browsers` real web-client pages in Chromium, at the same time as the listeners, measure
  what they play themselves (turnMeter.ts, earClock.ts): the check that the replay and the
  browser agree.

Keys (JSON on the last line), from the listeners:
- `clean_underruns_per_min`, `underruns_per_min`: gaps inside assistant turns per minute of
  assistant audio played, clean and jittery;
- `buffer_ms_p50`: the jitter buffer's depth at the end of each turn, jittery link;
- `ear_added_p95_ms`: mouth to ear minus the gateway's own `voice` latency for the same turn
  (the network and the player), jittery link; `clean_ear_added_p95_ms` likewise;
- `ear_link_p95_ms`, `ear_beyond_link_p95_ms`: that figure split per turn into what the relay
  held the user's last word and the answer's first audio (its log: `Passages.link_ms`), and
  the rest (nginx, TLS, the player's jitter buffer filling); `start_wait_p95_ms`: of the rest,
  the player's own part, from the answer's first audio arriving to its first sample played;
- `capped_underruns_per_min`: the same behind the bandwidth cap;
- `sdk_turns_ok`: "ok/tried" turns of `@pipecat-ai/client-js` (web/sdk-check) heard both ways.
Goal: 0 underruns per minute both ways, `buffer_ms_p50` <= 120, `ear_added_p95_ms` <= 80.
`--direct` talks to the gateway itself (no nginx, no TLS) for pacing experiments; `--plain` puts
a plain Pipecat relay (bench/baselines/plain_relay.py) in its place.
`--quick` (3 listeners, 1 browser, 2 turns) runs in under three minutes. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from harness.browser import chromium  # noqa: E402
from harness.capped_link import CappedLink  # noqa: E402
from harness.ear_trace import listen_apart  # noqa: E402
from harness.impairment import CLEAN, WEAK_WIFI, ImpairedLink, Impairment  # noqa: E402
from harness.player_replay import replay  # noqa: E402
from harness.redis_server import running_redis  # noqa: E402
from harness.services import Processes  # noqa: E402
from harness.speech import silence, speech_pcm, write_wav  # noqa: E402
from harness.static_site import static_site  # noqa: E402
from harness.stats import percentile  # noqa: E402
from harness.waiting import async_wait_until  # noqa: E402
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
PAUSE_MS = 7000  # after each utterance: the answer plays in it
# The conditions, in order; "capped" is the weak link behind a bandwidth cap (--cap-kbit).
LINKS = {"clean": CLEAN, "weak": WEAK_WIFI, "capped": WEAK_WIFI}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _open_page(browser: Any, url: str) -> Any:
    """A web-client page at `url`, its session started."""
    context = await browser.new_context(ignore_https_errors=True)
    page = await context.new_page()
    await page.goto(url + "/")
    await page.get_by_test_id("new-conversation").click()
    await page.wait_for_url("**/voice/**")
    await page.get_by_test_id("start-stop").click()
    return page


async def _page_turns(page: Any, turns: int) -> list[dict[str, Any]]:
    """What the page heard, once `turns` answers to the user were heard (or the timeout)."""
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
    await page.context.close()
    return all_turns


async def _condition(
    front_port: int,
    impairment: Impairment,
    args: argparse.Namespace,
    mic: Path,
    utterance: Path,
    name: str,
    cap_kbit: int = 0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Listeners and browser pages at once over one link: the listeners' turns, the pages',
    and the listeners' loop lag. With `cap_kbit`, the listeners alone, in a network namespace
    whose traffic is capped at that rate each way (tests/harness/capped_link.py)."""
    async with contextlib.AsyncExitStack() as stack:
        port, host = front_port, "localhost"
        wrap: Callable[[list[str]], list[str]] | None = None
        link: ImpairedLink | None = None
        if cap_kbit:
            # Setting the link up may wait for browsers elsewhere (harness/host_network.py):
            # in a thread, so this loop (the relay's) is never held up by it.
            capped = await asyncio.to_thread(stack.enter_context, CappedLink(rate_kbit=cap_kbit))
            host, wrap = capped.host_ip, capped.command
        if not impairment.clean or cap_kbit:
            link = await stack.enter_async_context(
                ImpairedLink(front_port, down=impairment, up=impairment, listen_host=host)
            )
            port = link.port
        pages: list[Any] = []
        if args.browsers and not cap_kbit:
            browser = await stack.enter_async_context(chromium(mic))
            url = f"https://localhost:{port}"
            # Pages first: Chromium starting up takes both cores for a moment, and the
            # listeners' arrival times would carry that stall.
            opened = [await _open_page(browser, url) for _ in range(args.browsers)]
            pages = [_page_turns(page, args.turns) for page in opened]
        scheme = "ws" if args.direct else "wss"
        # The listeners run in a process of their own (ear_trace.py says why).
        listening = listen_apart(
            f"{scheme}://{host}:{port}",
            f"bench-{name}",
            args.sessions,
            utterance,
            pause_ms=PAUSE_MS,
            answers=args.turns,
            timeout_s=TURN_TIMEOUT_S * args.turns,
            wrap=wrap,
        )
        (traces, lag), *browsed = await asyncio.gather(listening, *pages)
    log(f"  listeners' loop lag: {lag}")
    for trace in traces:
        for error in trace.errors:
            log(f"  listener: {error}")
    # The replay is a Node process: off the loop, which still closes the relay's sockets.
    heard = await asyncio.to_thread(replay, traces)
    for turn in heard:
        passages = link.passages.get(turn["local_port"]) if link else None
        if passages and turn["voiced_at"] is not None and turn["first_audio_at"] is not None:
            turn["link_ms"] = passages.link_ms(turn["voiced_at"], turn["first_audio_at"])
    return heard, [turn for page in browsed for turn in page], lag


@contextlib.contextmanager
def _realtime_apart(speed: float) -> Iterator[str]:
    """The Realtime double in a process of its own (OpenAI is another machine): as a thread of
    this one it would share a GIL with the relay and the browsers' driver, and its audio would
    leave late when they are busy. Yields the `reply` scenario's URL."""
    command = [sys.executable, "-m", "fakes.openai_realtime", "--speed", str(speed)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        # It prints its scenarios' URLs once it listens.
        for line in process.stdout:
            name, _, url = line.strip().partition(": ")
            if name == "reply":
                yield url
                return
        raise RuntimeError("the Realtime double exited before listening")
    finally:
        process.terminate()
        process.wait()


async def _listening(port: int) -> None:
    """Until something accepts connections on `port` (the plain relay has no health route)."""

    async def accepts() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await async_wait_until(accepts, timeout_s=30, what=f"the plain relay on port {port}")


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
    linked = [t for t in by_user if t.get("link_ms") is not None]
    link = [t["link_ms"] for t in linked]
    beyond = [t["mouth_to_ear_ms"] - t["gateway_voice_ms"] - t["link_ms"] for t in linked]
    waits = [
        t["mouth_to_ear_ms"] - (t["first_audio_at"] - t["voiced_at"])
        for t in by_user
        if t.get("first_audio_at") is not None
    ]

    def p95(values: list[float]) -> float | None:
        return round(percentile(values, 95), 1) if values else None

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
        "ear_added_p95_ms": p95(added),
        "ear_link_p95_ms": p95(link),
        "ear_beyond_link_p95_ms": p95(beyond),
        "start_wait_p95_ms": p95(waits),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    for root in (WEB_ROOT, SDK_ROOT):
        if not (root / "index.html").exists():
            sys.exit(f"no built page in {root}: run `make web` and `make web-test` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="av-audio-") as tmp:
        work = Path(tmp)
        utterance = work / "utterance.pcm"
        utterance.write_bytes(speech_pcm(SAYING))
        mic = write_wav(work / "mic.wav", silence(500) + utterance.read_bytes() + silence(7000))
        processes = Processes(work / "logs")
        stack_procs: list[asyncio.subprocess.Process] = []
        with (
            running_redis(work / "redis") as redis,
            FakeAgenticBackend(step_s=0.2) as agentic,
            _realtime_apart(args.upstream_speed) as reply_url,
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
                        {
                            "OPENAI_API_KEY": "bench",
                            "OPENAI_REALTIME_URL": reply_url,
                            # Every listener and page comes from 127.0.0.1.
                            "GATEWAY_MAX_SESSIONS_PER_ADDRESS": "100",
                            "GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "200",
                        },
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
                target = gateway_port if args.direct else front_port
                if args.plain:  # the baseline: Pipecat alone, in the gateway's place
                    target = free_port()
                    relay = [sys.executable, str(ROOT / "bench" / "baselines" / "plain_relay.py")]
                    relay += ["--port", str(target), "--realtime-url", reply_url]
                    stack_procs.append(
                        await asyncio.create_subprocess_exec(*relay, stderr=subprocess.DEVNULL)
                    )
                    await _listening(target)
                # Conditions skipped (`--link`) keep empty figures.
                results: dict[str, Any] = dict.fromkeys(LINKS, ([], [], {}))
                for name, link in LINKS.items():
                    if args.link not in ("all", name):
                        continue
                    cap = args.cap_kbit if name == "capped" else 0
                    log(f"{name} link {link}, cap {cap} kbit/s: {args.sessions} listeners")
                    results[name] = await _condition(
                        target, link, args, mic, utterance, name, cap_kbit=cap
                    )
                log("Pipecat's SDK")
                sdk_ok = sum([await _sdk_turn(front_port, mic) for _ in range(args.sdk_turns)])
            finally:
                for proc in stack_procs:
                    proc.terminate()
                    await proc.wait()
                processes.stop_all()
    clean, weak, capped = (_summary(results[n][0]) for n in LINKS)
    return {
        "bench": "audio_quality",
        "sessions": args.sessions,
        "browsers": args.browsers,
        "turns_per_session": args.turns,
        "underruns_per_min": weak["underruns_per_min"],
        "buffer_ms_p50": weak["buffer_ms_p50"],
        "ear_added_p95_ms": weak["ear_added_p95_ms"],
        "ear_link_p95_ms": weak["ear_link_p95_ms"],
        "ear_beyond_link_p95_ms": weak["ear_beyond_link_p95_ms"],
        "clean_underruns_per_min": clean["underruns_per_min"],
        "clean_ear_added_p95_ms": clean["ear_added_p95_ms"],
        "capped_underruns_per_min": capped["underruns_per_min"],
        "sdk_turns_ok": f"{sdk_ok}/{args.sdk_turns}",
        "targets": {
            "underruns_per_min": 0,
            "buffer_ms_p50_max": 120,
            "ear_added_p95_ms_max": 80,
        },
        "clean": {**clean, "listeners_loop_lag": results["clean"][2]},
        "weak": {**weak, "link": str(WEAK_WIFI), "listeners_loop_lag": results["weak"][2]},
        "capped": {
            **capped,
            "link": f"{WEAK_WIFI}, {args.cap_kbit} kbit/s each way",
            "listeners_loop_lag": results["capped"][2],
        },
        "browsers_clean": _summary(results["clean"][1]),
        "browsers_weak": _summary(results["weak"][1]),
        "direct": args.direct,
        "plain_relay": args.plain,
        "upstream_speed": args.upstream_speed,
        "wall_s": round(time.monotonic() - started, 1),
        "quick": args.quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 listeners, 1 page, 2 turns")
    parser.add_argument("--sessions", type=int, help="listeners at once (default 10)")
    parser.add_argument("--browsers", type=int, help="web-client pages beside them (default 2)")
    parser.add_argument("--turns", type=int, help="answers heard per session (default 3)")
    parser.add_argument("--sdk-turns", type=int, default=1, help="Pipecat SDK sessions")
    parser.add_argument("--direct", action="store_true", help="listeners straight to the gateway")
    parser.add_argument("--plain", action="store_true", help="a plain Pipecat relay (--direct)")
    parser.add_argument("--link", choices=("all", *LINKS), default="all")
    parser.add_argument(
        "--cap-kbit", type=int, default=6000, help="the capped link's rate, each way"
    )
    parser.add_argument(
        "--upstream-speed",
        type=float,
        default=1.25,
        help="the Realtime double's audio, x real time (its default; OpenAI's is faster)",
    )
    args = parser.parse_args()
    args.sessions = args.sessions if args.sessions is not None else (3 if args.quick else 10)
    args.browsers = args.browsers if args.browsers is not None else (1 if args.quick else 2)
    args.turns = args.turns or (2 if args.quick else 3)
    args.direct = args.direct or args.plain
    if args.direct:
        args.browsers = 0  # pages load from nginx
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
