"""Replays `EarTrace`s into the web client's own player (web/src/audio/replay.ts, built by
`npm run build:replay` into web/dist-replay) and turns what it heard into the per-turn figures
the browser reports (`heardTurns` in the client's debug stats), so both summarise alike."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from contracts.browser import SAMPLE_RATE
from harness.ear_trace import EarTrace

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "web" / "dist-replay" / "replay.js"


def replay(traces: list[EarTrace]) -> list[dict[str, Any]]:
    """Every heard turn of every trace: played_ms, underruns, underrun_ms, buffer_ms,
    mouth_to_ear_ms (None for a turn the user's voice did not start) and gateway_voice_ms; and,
    to tell the link's share from the player's, voiced_at (the user's last voiced frame sent),
    first_audio_at (the answer's first audio arrived) and the session's local_port."""
    if not REPLAY.exists():
        raise FileNotFoundError(f"{REPLAY} is missing: run `npm run build:replay` in web/")
    trace_in = {"sampleRate": SAMPLE_RATE, "sessions": [{"events": t.events} for t in traces]}
    done = subprocess.run(
        ["node", str(REPLAY)], input=json.dumps(trace_in), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"replay failed: {done.stderr.strip()}")
    heard = json.loads(done.stdout)["sessions"]
    return [
        turn
        for trace, session in zip(traces, heard, strict=True)
        for turn in _turns(trace, session)
    ]


def _ms(samples: int) -> float:
    return round(samples / SAMPLE_RATE * 1000, 1)


def _turns(trace: EarTrace, session: dict[str, Any]) -> list[dict[str, Any]]:
    turns, previous_end = [], float("-inf")
    for turn in session["turns"]:
        started, ended = turn["startedAt"], turn["endedAt"]
        # As the web client's ear clock: the user's voice counts for the turn it preceded.
        voiced = [t for t in trace.voiced_ms if previous_end < t <= started]
        timed = [ms for at, ms in trace.voice_latency if previous_end < at <= ended]
        first_audio = next(
            (e["t"] for e in trace.events
             if e["type"] == "chunk" and voiced and voiced[-1] < e["t"] <= started),
            None,
        )  # fmt: skip
        turns.append({
            "played_ms": _ms(turn["playedSamples"]),
            "underruns": turn["underruns"],
            "underrun_ms": _ms(turn["underrunSamples"]),
            "buffer_ms": _ms(turn["bufferSamples"]),
            "mouth_to_ear_ms": round(started - voiced[-1], 1) if voiced else None,
            "gateway_voice_ms": timed[0] if voiced and timed else None,
            "voiced_at": voiced[-1] if voiced else None,
            "first_audio_at": first_audio,
            "local_port": trace.local_port,
        })  # fmt: skip
        previous_end = ended
    return turns
