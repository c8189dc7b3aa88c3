"""Event-store ingest: durable throughput, persistence lag at a fixed rate, per-event baseline.

Starts a private redis-server and the event-store (its real command) per run, in a temp dir.

- Throughput: N events are XADDed (pipelined) into the stream *before* the event-store starts, so
  the producer cannot be the bottleneck; the clock runs from the store being ready until N rows
  are committed in SQLite (counted from a separate read-only connection).
- Baseline: the same with EVENT_STORE_BATCH_MAX=1, i.e. one transaction (and fsync) per event, as
  the single-process voice server's store wrote, on fewer events.
- Lag: events XADDed at a fixed rate (1,000/s, paced 10 every 10 ms on a monotonic schedule);
  commit time is observed by polling SQLite every 2 ms, so lag is XADD -> row visible, over-
  estimated by up to the polling interval.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from contracts import ConversationEvent  # noqa: E402
from harness.events import xadd_events  # noqa: E402
from harness.stats import percentile  # noqa: E402
from stack import ManagedProcess, event_store_spec, free_port, redis_spec  # noqa: E402

POLL_S = 0.002


def log(message: str) -> None:
    print(f"[event_ingest] {message}", file=sys.stderr, flush=True)


def make_events(n: int, tag: str) -> list[ConversationEvent]:
    return [
        ConversationEvent(
            conversation_id=f"bench-{tag}-{i % 16}",
            source="voice",
            type="transcript",
            payload={"role": "user" if i % 2 else "assistant", "text": f"utterance number {i}"},
        )
        for i in range(n)
    ]


@contextmanager
def running_stack(
    workdir: Path, **store_env: str
) -> Iterator[tuple[redis.Redis, Path, ManagedProcess]]:
    """A fresh Redis; the event-store is created but not started (the caller starts it)."""
    redis_process = ManagedProcess(redis_spec(free_port(), workdir / "redis"), workdir)
    redis_process.start(timeout=20)
    db = workdir / "events.db"
    store = ManagedProcess(
        event_store_spec(free_port(), redis_process.spec.url, db, extra_env=store_env), workdir
    )
    client = redis.Redis.from_url(redis_process.spec.url)
    try:
        yield client, db, store
    finally:
        client.close()
        store.stop()
        redis_process.stop()


def committed_rows(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM conversation_events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def throughput(n: int, batch_max: int, tag: str) -> float:
    """Events per second from a pre-filled stream into committed rows."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp,
        running_stack(Path(tmp), EVENT_STORE_BATCH_MAX=str(batch_max)) as (client, db, store),
    ):
        for start in range(0, n, 10_000):
            xadd_events(client, make_events(min(10_000, n - start), f"{tag}{start}"))
        store.start(timeout=30)
        started = time.perf_counter()
        while committed_rows(db) < n:
            if time.perf_counter() - started > 600:
                raise TimeoutError(f"only {committed_rows(db)} of {n} rows after 600 s")
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    return n / elapsed


def lag_at_rate(rate: int, seconds: float) -> list[float]:
    """Per-event lag in ms, XADD -> committed row visible, at a fixed rate."""
    per_tick, tick_s = max(1, rate // 100), 0.01
    total = int(rate * seconds)
    events = make_events(total, "lag")
    sent_at: dict[str, float] = {}
    lags: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-lag-") as tmp,
        running_stack(Path(tmp)) as (
            client,
            db,
            store,
        ),
    ):
        store.start(timeout=30)
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        last_row = 0
        next_tick = time.monotonic()
        sent = 0
        deadline = time.monotonic() + seconds + 30
        while len(lags) < total and time.monotonic() < deadline:
            now = time.monotonic()
            if sent < total and now >= next_tick:
                batch = events[sent : sent + per_tick]
                stamp = time.perf_counter()
                xadd_events(client, batch)
                for event in batch:
                    sent_at[event.id] = stamp
                sent += len(batch)
                next_tick += tick_s
            rows = reader.execute(
                "SELECT id, event_id FROM conversation_events WHERE id > ? ORDER BY id", (last_row,)
            ).fetchall()
            seen = time.perf_counter()
            for row_id, event_id in rows:
                lags.append((seen - sent_at[event_id]) * 1000)
                last_row = row_id
            time.sleep(POLL_S)
        reader.close()
    if len(lags) < total:
        raise TimeoutError(f"only {len(lags)} of {total} events committed")
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--events", type=int, help="events per throughput run")
    parser.add_argument("--rate", type=int, default=1000, help="events/s for the lag run")
    args = parser.parse_args()

    n = args.events or (50_000 if args.quick else 200_000)
    repeats = 1 if args.quick else 3
    baseline_n = 1_000 if args.quick else 3_000
    lag_seconds = 5.0 if args.quick else 20.0

    runs = []
    for i in range(repeats):
        runs.append(throughput(n, 2000, f"t{i}"))
        log(f"batched run {i + 1}/{repeats}: {runs[-1]:,.0f} events/s")
    baseline_runs = []
    for i in range(repeats):
        baseline_runs.append(throughput(baseline_n, 1, f"b{i}"))
        log(f"per-event-commit run {i + 1}/{repeats}: {baseline_runs[-1]:,.0f} events/s")
    lags = lag_at_rate(args.rate, lag_seconds)
    log(f"lag at {args.rate}/s over {len(lags)} events: p50 {percentile(lags, 50):.1f} ms")

    events_per_s = statistics.median(runs)
    baseline = statistics.median(baseline_runs)
    print(
        json.dumps(
            {
                "bench": "event_ingest",
                "events_per_s": round(events_per_s),
                "baseline_events_per_s": round(baseline),
                "speedup": round(events_per_s / baseline, 1),
                "lag_p50_ms": round(percentile(lags, 50), 1),
                "lag_p99_ms": round(percentile(lags, 99), 1),
                "lag_max_ms": round(max(lags), 1),
                "rate_per_s": args.rate,
                "events": n,
                "baseline_events": baseline_n,
                "lag_samples": len(lags),
                "runs_events_per_s": [round(r) for r in runs],
                "runs_baseline_events_per_s": [round(r) for r in baseline_runs],
                "batch_max": 2000,
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
