"""Soak: 10 concurrent voice sessions for 10 minutes (`--quick`: 1 minute) through the whole
stack, watching for anything that grows: memory, sessions, tasks, connections, latency; then the
local brain, session after session.

The stack is real processes on free ports (`tests/harness/fault_stack.py`): Redis (append-only),
the event-store, the tool-worker (against the fake agentic backend) and the voice-gateway (its
brain the fake OpenAI Realtime server, a thread of this process). Each session streams 20 ms
frames at real time, an espeak utterance then 3 s of silence, over and over (start times spread
over one cycle); the fake answers each utterance with about 2 s of audio, and every fifth turn
it calls `send_to_nested` instead, so tool calls, team progress and spoken summaries run too.

Sampled every `--sample-s` (5 s) while the sessions run: the gateway's RSS (psutil), its open
TCP connections (browsers' and upstream ones; Redis's pool counted apart), its asyncio tasks
(`gateway_asyncio_tasks`), sessions (`gateway_sessions_active` and the Redis registry).
Latency per turn: the client's clock from sending the utterance's last voiced frame to the
first audio of the answer (includes the fake's 0.5 s end-of-turn silence and 0.2 s
"thinking"). Windows: the first and the last `min(60 s, duration / 3)`, the first one after a
warm-up of 15 s (the sessions' first turns).

The local brain (`local_*` figures; `--local-sessions`, 200, `--quick`: 40): a second stack with
VOICE_BRAIN=local. After a warm-up (5 sessions one after the other, then 20 at once),
`local_sessions` short sessions one after the other (connect, hear the greeting begin, say one
Piper utterance, hear the first audio of the answer, hang up; every fourth one hands a task to the
team), then 20 at once. The gateway's RSS once its sessions are over, after the warm-up
(`local_rss_start_mb`), every 50 sessions (`local_rss_settled_mb`) and at the end
(`local_rss_end_mb`): each session builds its own pipeline around models shared per process,
and must leave nothing behind.

Figures: rss_growth_pct (median RSS of the last window over the first), leaked_sessions,
leaked_tasks and leaked_connections (after every client hung up and 5 s passed, against the
figures before any session opened), latency p50/p99 in the first and last windows, and events
produced versus stored over the run. The load generator shares the 2 cores with the stack: the
latencies are an upper bound, and the machine may be busy with other work (reported as the CPU
other processes used).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from contracts.keys import SESSIONS_KEY  # noqa: E402
from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from fakes.openai_realtime import CallTool, FakeRealtimeServer, Scenario, Speak  # noqa: E402
from harness.caller import FRAME_S, Caller, utterance  # noqa: E402
from harness.fault_runs import conversation  # noqa: E402
from harness.fault_stack import FaultStack, scrape  # noqa: E402
from harness.local_speech import piper_pcm  # noqa: E402
from harness.short_sessions import LOCAL_SAYINGS, LOCAL_TASK, local_session  # noqa: E402
from harness.stats import percentile  # noqa: E402

SESSIONS = 10
WARM_UP_S = 15.0
SETTLE_TIMEOUT_S = 15.0  # for sessions to end, sockets to close, tasks to finish
MB = 1024 * 1024

SOAK = Scenario(
    "soak",
    turns=tuple(
        CallTool("send_to_nested", {"text": "Look into it."})
        if i % 5 == 4
        else Speak("You said: {transcript}")
        for i in range(1000)
    ),
    after_tool=Speak("Handed over. {tool_output}"),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Sample:
    t: float  # seconds since the sessions started
    rss_mb: float
    connections: int  # browsers' and upstream sockets (Redis's pool apart)
    tasks: int
    sessions_metric: int
    sessions_registry: int


@dataclass
class Gateway:
    stack: FaultStack
    redis: redis.Redis
    samples: list[Sample] = field(default_factory=list)

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.stack.pid("voice-gateway"))

    def connections(self) -> tuple[int, int]:
        """Open TCP connections: (per session: browsers' and upstream ones; Redis's pool)."""
        redis_port = int(self.stack.redis_url.rsplit(":", 1)[1].split("/")[0])
        session = pool = 0
        for conn in self.process.net_connections("tcp"):
            if conn.status != "ESTABLISHED" or not conn.raddr:
                continue
            if conn.raddr.port == redis_port:
                pool += 1
            else:  # a browser on the gateway's port, or the gateway's upstream
                session += 1
        return session, pool

    def figures(self) -> dict[str, int]:
        values = scrape(self.stack.url("voice-gateway"))
        session, pool = self.connections()
        return {
            "tasks": round(values.get("gateway_asyncio_tasks", 0)),
            "sessions_metric": round(values.get("gateway_sessions_active", 0)),
            "sessions_registry": int(self.redis.scard(SESSIONS_KEY)),  # type: ignore[arg-type]
            "connections": session,
            "redis_connections": pool,
        }

    def trims(self) -> int:
        """How many times the gateway has handed freed memory back (memory.py)."""
        values = scrape(self.stack.url("voice-gateway"))
        return round(values.get("gateway_memory_trim_seconds_count", 0))

    def sample(self, t: float) -> Sample:
        figures = self.figures()
        sample = Sample(
            t=round(t, 1),
            rss_mb=round(self.process.memory_info().rss / MB, 1),
            connections=figures["connections"],
            tasks=figures["tasks"],
            sessions_metric=figures["sessions_metric"],
            sessions_registry=figures["sessions_registry"],
        )
        self.samples.append(sample)
        return sample


def window_stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p99_ms": None}
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
    }


async def _settled(gateway: Gateway, before: dict[str, int]) -> dict[str, int]:
    """The gateway's figures once sessions, tasks and connections are back to where they were
    before the sessions, or as they are at the deadline: what is still up then has leaked."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        after = await asyncio.to_thread(gateway.figures)
        back = all(after[k] <= before[k] for k in ("tasks", "sessions_metric", "connections"))
        if back or time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.2)


async def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    duration = args.duration_s or (60.0 if args.quick else 600.0)
    window = min(60.0, duration / 3)
    with FakeRealtimeServer(scenarios=[SOAK]) as realtime, FakeAgenticBackend() as agentic:
        stack = FaultStack(
            work,
            realtime,
            agentic,
            scenario="soak",
            gateway_env={"GATEWAY_MAX_SESSIONS_PER_ADDRESS": str(SESSIONS + 2)},
        )
        await asyncio.to_thread(stack.start)
        client = redis.Redis.from_url(stack.redis_url)
        gateway = Gateway(stack, client)
        try:
            before = await asyncio.to_thread(gateway.figures)
            rss_before = gateway.process.memory_info().rss / MB
            cycle = utterance()
            callers = [
                Caller(
                    stack.voice_url(conversation(f"soak{i}")),
                    cycle,
                    lead_frames=i * len(cycle) // SESSIONS,
                    reconnect=False,
                )
                for i in range(SESSIONS)
            ]
            cpu_others_start = psutil.cpu_times()
            own = {stack.pid(name) for name in ("redis", "event-store", "tool-worker")}
            own |= {stack.pid("voice-gateway"), psutil.Process().pid}
            own_cpu_start = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in own)
            started = time.monotonic()
            for caller in callers:
                caller.start()
            log(f"[soak] {SESSIONS} sessions for {duration:.0f} s")
            next_log = 0.0
            while (elapsed := time.monotonic() - started) < duration:
                sample = await asyncio.to_thread(gateway.sample, elapsed)
                if elapsed >= next_log:
                    log(f"[soak] {sample}")
                    next_log += 30
                await asyncio.sleep(args.sample_s)
            final = await asyncio.to_thread(gateway.sample, time.monotonic() - started)
            own_cpu_s = sum(sum(psutil.Process(p).cpu_times()[:2]) for p in own) - own_cpu_start
            cpu_now = psutil.cpu_times()
            busy_s = (sum(cpu_now) - cpu_now.idle) - (sum(cpu_others_start) - cpu_others_start.idle)
            wall_s = time.monotonic() - started
            dropped = [c for c in callers if len(c.connections) != 1 or not c.in_session()]
            for caller in callers:
                await caller.stop()
            after = await _settled(gateway, before)
            rss_after = gateway.process.memory_info().rss / MB
            events = await asyncio.to_thread(stack.settle)
        finally:
            client.close()
            await asyncio.to_thread(stack.stop)

    first_lo, first_hi = WARM_UP_S, WARM_UP_S + window
    last_lo, last_hi = duration - window, duration

    def rss_in(lo: float, hi: float) -> float:
        values = [s.rss_mb for s in gateway.samples if lo <= s.t <= hi]
        return statistics.median(values) if values else final.rss_mb

    def latencies_in(lo: float, hi: float) -> list[float]:
        return [
            seconds for c in callers for when, seconds in c.latencies if lo <= when - started <= hi
        ]

    rss_first, rss_last = rss_in(first_lo, first_hi), rss_in(last_lo, last_hi)
    answers = sum(len(c.answers) for c in callers)
    tool_calls = sum(len(c.messages("function_result")) for c in callers)
    return {
        "benchmark": "soak",
        "quick": args.quick,
        "sessions": SESSIONS,
        "duration_s": duration,
        "window_s": round(window, 1),
        "rss_before_sessions_mb": round(rss_before, 1),
        "rss_first_window_mb": round(rss_first, 1),
        "rss_last_window_mb": round(rss_last, 1),
        "rss_growth_pct": round((rss_last - rss_first) / rss_first * 100, 2),
        # Conversation contexts grow with every turn while a session lasts; they go with it.
        "rss_after_sessions_mb": round(rss_after, 1),
        "sessions_dropped": len(dropped),
        "leaked_sessions": after["sessions_metric"] + after["sessions_registry"],
        "leaked_tasks": after["tasks"] - before["tasks"],
        "leaked_connections": after["connections"] - before["connections"],
        "tasks_before_during_after": [before["tasks"], final.tasks, after["tasks"]],
        "connections_before_during_after": [
            before["connections"],
            final.connections,
            after["connections"],
        ],
        # redis-py keeps connections it opened under load in its pool (bounded, reused).
        "redis_pool_connections_before_after": [
            before["redis_connections"],
            after["redis_connections"],
        ],
        "latency_first_window": window_stats(latencies_in(first_lo, first_hi)),
        "latency_last_window": window_stats(latencies_in(last_lo, last_hi)),
        "answers_heard": answers,
        "tool_calls": tool_calls,
        "frames_sent_per_session": round(wall_s / FRAME_S),
        **events,
        "stack_and_load_cpu_pct_of_machine": round(own_cpu_s / wall_s / psutil.cpu_count() * 100),
        "machine_busy_pct": round(busy_s / wall_s / psutil.cpu_count() * 100),
        "samples": [s.__dict__ for s in gateway.samples],
    }


LOCAL_WARM_UP = 5
TRIM_WAIT_S = 7.0  # the gateway trims at most every 5 s
LOCAL_CONCURRENT = 20


async def local_soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sayings = [piper_pcm(text) for text in (*LOCAL_SAYINGS, LOCAL_TASK)]
    with FakeRealtimeServer() as realtime, FakeAgenticBackend() as agentic:
        env = {
            "VOICE_BRAIN": "local",
            "OPENAI_API_KEY": "",
            "GATEWAY_MAX_SESSIONS_PER_ADDRESS": str(LOCAL_CONCURRENT + 2),
            "GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "1000",  # one load generator
        }
        stack = FaultStack(work, realtime, agentic, gateway_env=env)
        await asyncio.to_thread(stack.start)
        client = redis.Redis.from_url(stack.redis_url)
        gateway = Gateway(stack, client)
        latencies: list[float | None] = []
        try:
            before = await asyncio.to_thread(gateway.figures)

            def url(n: int) -> str:
                return stack.voice_url(conversation(f"local{n}"))

            async def one(n: int) -> None:
                latencies.append(await local_session(url(n), sayings[n % len(sayings)]))

            async def settled_rss() -> float:
                """The gateway's RSS once its sessions are over and their memory handed back:
                after the next trim (memory.py runs one within 5 s of a session's end), so
                that every reading is taken at the same point of that cycle."""
                await _settled(gateway, before)
                trims = await asyncio.to_thread(gateway.trims)
                for _ in range(round(TRIM_WAIT_S / 0.2)):  # polling the trim counter
                    if await asyncio.to_thread(gateway.trims) != trims:
                        break
                    await asyncio.sleep(0.2)
                return float(gateway.process.memory_info().rss / MB)

            # Warm-up: every kind of work once (sessions one after the other, then a burst), so
            # what the start figure holds is what the gateway needs, not what it has yet to grow.
            for n in range(LOCAL_WARM_UP):
                await one(n)
            await asyncio.gather(*(one(LOCAL_WARM_UP + n) for n in range(LOCAL_CONCURRENT)))
            warmed = len(latencies)
            rss_settled = [await settled_rss()]
            log(f"[soak local] after warm-up: {rss_settled[0]:.0f} MB")
            for n in range(args.local_sessions):
                await one(warmed + n)
                if n % 50 == 49:
                    rss_settled.append(await settled_rss())
                    log(f"[soak local] {n + 1} sessions: {rss_settled[-1]:.0f} MB")
            first = warmed + args.local_sessions
            await asyncio.gather(*(one(first + n) for n in range(LOCAL_CONCURRENT)))
            after = await _settled(gateway, before)
            rss_end = await settled_rss()
            rss_settled.append(rss_end)
            events = await asyncio.to_thread(stack.settle)
        finally:
            client.close()
            await asyncio.to_thread(stack.stop)
    measured = [s for s in latencies[warmed:] if s is not None]
    rss_start = rss_settled[0]
    return {
        "local_sessions": args.local_sessions,
        "local_concurrent_sessions": LOCAL_CONCURRENT,
        "local_rss_start_mb": round(rss_start, 1),
        "local_rss_end_mb": round(rss_end, 1),
        "local_rss_growth_pct": round((rss_end - rss_start) / rss_start * 100, 2),
        "local_leaked_sessions": after["sessions_metric"] + after["sessions_registry"],
        "local_leaked_tasks": after["tasks"] - before["tasks"],
        "local_rss_settled_mb": [round(rss, 1) for rss in rss_settled],
        "local_unanswered": len(latencies) - warmed - len(measured),
        "local_answer_p50_ms": round(statistics.median(measured) * 1000),
        "local_answer_p90_ms": round(percentile(measured, 90) * 1000),
        "local_events_lost": events["events_lost"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 minute instead of 10")
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--sample-s", type=float, default=5.0)
    parser.add_argument("--local-sessions", type=int, default=None, help="200; --quick: 40")
    parser.add_argument("--only", choices=["realtime", "local"], default=None)
    args = parser.parse_args()
    if args.local_sessions is None:
        args.local_sessions = 40 if args.quick else 200
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as scratch:
        if args.only != "local":
            result |= asyncio.run(soak(args, Path(scratch) / "realtime"))
        if args.only != "realtime":
            result |= asyncio.run(local_soak(args, Path(scratch) / "local"))
    if "local_sessions" in result:
        print(
            f"\nsoak, local brain: {result['local_sessions']} sessions one after the other, then "
            f"{LOCAL_CONCURRENT} at once\n"
            f"  gateway RSS after warm-up / at the end: {result['local_rss_start_mb']} / "
            f"{result['local_rss_end_mb']} MB ({result['local_rss_growth_pct']:+.2f} %)\n"
            f"  leaked sessions / tasks: {result['local_leaked_sessions']} / "
            f"{result['local_leaked_tasks']}; answer p50/p90 {result['local_answer_p50_ms']} / "
            f"{result['local_answer_p90_ms']} ms"
        )
    if "sessions" not in result:
        print(json.dumps(result))
        return
    first, last = result["latency_first_window"], result["latency_last_window"]
    print(
        f"\nsoak: {result['sessions']} sessions x {result['duration_s']:.0f} s "
        f"(windows of {result['window_s']} s)\n"
        f"  gateway RSS first/last window: {result['rss_first_window_mb']} / "
        f"{result['rss_last_window_mb']} MB ({result['rss_growth_pct']:+.2f} %)\n"
        f"  leaked sessions / tasks / connections: {result['leaked_sessions']} / "
        f"{result['leaked_tasks']} / {result['leaked_connections']}\n"
        f"  latency first window p50/p99: {first['p50_ms']} / {first['p99_ms']} ms (n={first['n']})"
        f"; last window: {last['p50_ms']} / {last['p99_ms']} ms (n={last['n']})\n"
        f"  sessions dropped: {result['sessions_dropped']}; answers {result['answers_heard']}, "
        f"tool calls {result['tool_calls']}; events produced/stored/lost "
        f"{result['events_produced']}/{result['events_stored']}/{result['events_lost']}\n"
        f"  machine busy {result['machine_busy_pct']} % (this run's processes "
        f"{result['stack_and_load_cpu_pct_of_machine']} %)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
