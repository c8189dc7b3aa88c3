"""Tool round trip: a no-op job from enqueue to its result in the caller's hand.

Side by side in one run, against one private redis-server:
- the project's path: the tool-worker process (its real command), woken by the caller's push
  and answering on the call's result channel (`ToolDispatcher.ping`);
- arq with its default settings: a plain arq `Worker` (poll_delay 0.5 s) in its own process, and
  the caller waiting with `Job.result()` (which also polls every 0.5 s).
Also the fast worker's CPU use while idle (psutil over a few seconds with no jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from arq.connections import RedisSettings, create_pool  # noqa: E402
from arq.worker import Worker  # noqa: E402

from contracts import new_event_id  # noqa: E402
from harness.stats import percentile  # noqa: E402
from harness.tool_calls import dispatcher  # noqa: E402
from stack import ManagedProcess, free_port, http_ready, redis_spec, tool_worker_spec  # noqa: E402

DEFAULT_QUEUE = "bench:arq-default"


def log(message: str) -> None:
    print(f"[tool_roundtrip] {message}", file=sys.stderr, flush=True)


async def noop(ctx: dict[str, Any]) -> str:
    return "ok"


def serve_default_worker(redis_url: str) -> None:
    """The comparison: arq exactly as configured out of the box."""
    Worker(
        functions=[noop], queue_name=DEFAULT_QUEUE, redis_settings=RedisSettings.from_dsn(redis_url)
    ).run()


async def fast_round_trips(redis_url: str, n: int) -> list[float]:
    async with dispatcher(redis_url) as tools:
        for _ in range(20):  # warm-up: connections, imports, caches
            await tools.ping(new_event_id())
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await tools.ping(new_event_id())
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def default_round_trips(redis_url: str, n: int) -> list[float]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=DEFAULT_QUEUE)
    samples = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            job = await pool.enqueue_job("noop", _queue_name=DEFAULT_QUEUE)
            assert job is not None
            await job.result(timeout=10)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await pool.aclose()
    return samples


def idle_cpu_pct(pid: int, seconds: float) -> float:
    process = psutil.Process(pid)
    process.cpu_percent(None)
    time.sleep(seconds)  # measuring an idle interval: the worker must be left alone
    return float(process.cpu_percent(None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, under a minute")
    parser.add_argument("--calls", type=int, help="round trips on the fast path")
    parser.add_argument("--serve-default-worker", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_default_worker:
        serve_default_worker(args.serve_default_worker)
        return

    n = args.calls or (300 if args.quick else 2000)
    n_default = 10 if args.quick else 40
    idle_s = 3.0 if args.quick else 10.0
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        work = Path(tmp)
        redis = ManagedProcess(redis_spec(free_port(), work / "redis"), work)
        redis.start(timeout=20)
        port = free_port()
        worker = ManagedProcess(tool_worker_spec(port, redis.spec.url), work)
        default = subprocess.Popen(
            [sys.executable, __file__, "--serve-default-worker", redis.spec.url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            worker.start(timeout=30)
            assert http_ready(f"http://127.0.0.1:{port}/readyz")()
            fast = asyncio.run(fast_round_trips(redis.spec.url, n))
            log(f"fast path: {n} calls, p50 {percentile(fast, 50):.2f} ms")
            slow = asyncio.run(default_round_trips(redis.spec.url, n_default))
            log(f"arq defaults: {n_default} calls, p50 {percentile(slow, 50):.1f} ms")
            idle = idle_cpu_pct(worker.pid, idle_s)
            log(f"fast worker idle CPU over {idle_s:g} s: {idle:.2f}%")
        finally:
            default.terminate()
            default.wait(10)
            worker.stop()
            redis.stop()

    print(json.dumps({
        "bench": "tool_roundtrip",
        "p50_ms": round(percentile(fast, 50), 2),
        "p99_ms": round(percentile(fast, 99), 2),
        "mean_ms": round(statistics.fmean(fast), 2),
        "max_ms": round(max(fast), 2),
        "calls": n,
        "arq_default_p50_ms": round(percentile(slow, 50), 1),
        "arq_default_p99_ms": round(percentile(slow, 99), 1),
        "arq_default_calls": n_default,
        "speedup_p50": round(percentile(slow, 50) / percentile(fast, 50), 1),
        "idle_cpu_pct": round(idle, 2),
        "idle_seconds": idle_s,
        "quick": args.quick,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
