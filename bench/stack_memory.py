"""The voice-gateway container's memory across local-brain sessions, as users run it.

    .venv/bin/python bench/stack_memory.py [--sessions 60] [--tag latest] [--every 10]

Needs the images (`make images`). Starts the real docker-compose.yml under a project of its own
with VOICE_BRAIN=local (no OpenAI key), the agentic backend double on Docker's bridge, and runs
short sessions one after the other through nginx over wss, as a browser does (connect, hear the
greeting begin, say one thing, hear the answer begin, hang up; every fourth asks the team for
work, so the tool-worker and a team run take part). The gateway's memory (`docker stats`, what
its mem_limit counts) is read once its sessions are over and settled: after warm-up, then every
`--every` sessions; every service's at idle (Grafana is not run: ops/images/README.md). `--tag`
picks the images (`TAG=before` for a build of an older commit), so two builds compare side by side
in one run. Prints a JSON record; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from harness.compose_stack import ComposeError, ComposeStack, bridge_gateway  # noqa: E402
from harness.deploy_files import REQUIRED  # noqa: E402
from harness.fault_runs import conversation  # noqa: E402
from harness.local_speech import piper_pcm  # noqa: E402
from harness.short_sessions import LOCAL_SAYINGS, LOCAL_TASK, local_session  # noqa: E402
from nginx_site import ensure_certificate  # noqa: E402
from stack import free_port  # noqa: E402

TLS_DIR = ROOT / "data" / "tls"
WARM_UP = 3
SETTLE_S = 8.0  # the gateway gives memory back within 5 s of a session's end (memory.py)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settled_mib(stack: ComposeStack) -> float:
    """The gateway's memory once it has given back what its last session freed: read until two
    readings a second apart agree within 1 MiB (at most 20 s)."""
    time.sleep(SETTLE_S)  # the trim runs at most every 5 s after a session ends: let it run
    previous = stack.stats_mib()["voice-gateway"]
    for _ in range(20):
        time.sleep(1)  # docker stats is a sample: compare two a second apart
        now = stack.stats_mib()["voice-gateway"]
        if abs(now - previous) < 1:
            return now
        previous = now
    return previous


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sayings = [piper_pcm(text) for text in (*LOCAL_SAYINGS, LOCAL_TASK)]
    ensure_certificate(TLS_DIR)
    tls = ssl.create_default_context(cafile=TLS_DIR / "tls.crt")
    host = bridge_gateway()
    with FakeAgenticBackend(host=host, step_s=0.05) as agentic:
        https_port = free_port()
        stack = ComposeStack(
            project=f"avbench{args.tag.replace('.', '')}",
            env={
                **REQUIRED,
                "TAG": args.tag,
                "VOICE_BRAIN": "local",
                "OPENAI_API_KEY": "",
                "HTTPS_BIND": "127.0.0.1",
                "HTTPS_PORT": str(https_port),
                "PROMETHEUS_PORT": str(free_port()),
                "AGENTIC_WS_URL": f"ws://host.docker.internal:{agentic.port}",
            },
        )
        url = f"wss://localhost:{https_port}/api/realtime/pipecat/ws"
        answers: list[float | None] = []
        readings: list[dict[str, float]] = []
        try:
            await asyncio.to_thread(stack.up)
            idle_stack = await asyncio.to_thread(stack.stats_mib)
            idle = idle_stack["voice-gateway"]
            log(f"[stack memory {args.tag}] idle, models loaded: gateway {idle:.0f} MiB, "
                f"stack {sum(idle_stack.values()):.0f} MiB")  # fmt: skip
            for n in range(WARM_UP + args.sessions):
                pcm = sayings[n % len(sayings)]
                try:
                    answer = await local_session(f"{url}/{conversation(f'mem{n}')}", pcm, tls)
                except (OSError, websockets.exceptions.WebSocketException) as exc:
                    # A gateway over its limit is killed and restarted: counted, not fatal.
                    log(f"[stack memory {args.tag}] session {n} failed: {exc!r}")
                    answer = None
                answers.append(answer)
                done = n + 1 - WARM_UP
                if done == 0 or (done > 0 and done % args.every == 0):
                    mib = await asyncio.to_thread(settled_mib, stack)
                    readings.append({"sessions": done, "mib": mib})
                    log(f"[stack memory {args.tag}] {done} sessions: {mib:.0f} MiB")
            container = stack.inspect("voice-gateway")
            limit = container["HostConfig"]["Memory"] / 2**20
            restarts, oom_killed = container["RestartCount"], container["State"]["OOMKilled"]
        except ComposeError as exc:
            raise SystemExit(f"the stack did not run: {exc}") from exc
        finally:
            await asyncio.to_thread(stack.down, volumes=True)
    measured = [a for a in answers[WARM_UP:] if a is not None]
    start, end = readings[0]["mib"], readings[-1]["mib"]
    return {
        "tag": args.tag,
        "sessions": args.sessions,
        "gateway_idle_mib": idle,
        "stack_idle_mib": idle_stack,
        "stack_idle_total_mib": round(sum(idle_stack.values()), 1),
        "gateway_mem_limit_mib": limit,
        "gateway_restarts": restarts,
        "gateway_oom_killed_last": oom_killed,
        "gateway_mib_settled": readings,
        "gateway_growth_mib": round(end - start, 1),
        "gateway_growth_per_session_mib": round((end - start) / max(args.sessions, 1), 2),
        "unanswered": len(answers) - WARM_UP - len(measured),
        "answer_p50_ms": round(statistics.median(measured) * 1000) if measured else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--tag", default="latest", help="the images' tag (compose's TAG)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
