"""Session start: how long building one local-brain session stalls the gateway's event loop.

Building a local brain loads its Silero VAD and smart-turn models. Side by side in one run,
alternating: the brain built on the event loop (as the gateway did before) and in a thread (as
`VoiceSession` does now). A ticker on the loop records its worst lateness during each build:
that lateness is what every other session's 20 ms audio frames wait for when someone connects.
The shared Whisper and Piper models are loaded once first, as the gateway's start-up does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from loguru import logger

from voice_gateway.brains.brain import Persona
from voice_gateway.brains.local import local_brain, warm_up
from voice_gateway.settings import Settings

TICK_S = 0.002  # the ticker's period: the finest stall it can see


def log(message: str) -> None:
    print(f"[session_start] {message}", file=sys.stderr, flush=True)


async def worst_stall_ms(build: Callable[[], Awaitable[object]]) -> float:
    """The ticker's worst lateness while `build` runs."""
    lateness: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            lateness.append(time.perf_counter() - started - TICK_S)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(10 * TICK_S)  # let the ticker run before measuring
    lateness.clear()
    await build()
    await asyncio.sleep(5 * TICK_S)  # the tick that was due during the build lands now
    done.set()
    await ticking
    return max(lateness) * 1000


async def run(builds: int) -> dict[str, object]:
    settings = Settings(brain="local", llm_base_url=None)
    log("loading the shared models (as the gateway's start-up does)")
    await warm_up(settings)
    persona = Persona(settings.default_voice, settings.default_agent_name, "Be brief.")

    async def queue(_: object) -> None:
        return None

    def build() -> object:
        # The command-router brain: no caller is used while building.
        return local_brain(settings, persona, None, queue)  # type: ignore[arg-type]

    async def on_loop() -> object:
        return build()

    async def in_thread() -> object:
        return await asyncio.to_thread(build)

    stalls: dict[str, list[float]] = {"on_loop": [], "in_thread": []}
    for n in range(builds):
        stalls["on_loop"].append(await worst_stall_ms(on_loop))
        stalls["in_thread"].append(await worst_stall_ms(in_thread))
        log(f"build {n + 1}: on the loop {stalls['on_loop'][-1]:.1f} ms, "
            f"in a thread {stalls['in_thread'][-1]:.1f} ms")  # fmt: skip
    on_loop_p50 = statistics.median(stalls["on_loop"])
    in_thread_p50 = statistics.median(stalls["in_thread"])
    return {
        "benchmark": "session_start",
        "builds": builds,
        "loop_stall_ms_on_loop_p50": round(on_loop_p50, 1),
        "loop_stall_ms_on_loop_max": round(max(stalls["on_loop"]), 1),
        "loop_stall_ms_in_thread_p50": round(in_thread_p50, 1),
        "loop_stall_ms_in_thread_max": round(max(stalls["in_thread"]), 1),
        "stall_ratio": round(on_loop_p50 / in_thread_p50, 1) if in_thread_p50 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 builds of each, not 25")
    args = parser.parse_args()
    logger.remove()  # Pipecat's per-model "Loading…" lines would bury the results
    result = asyncio.run(run(5 if args.quick else 25))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
