"""A protocol-level listener: one voice session over the raw format that speaks like a
microphone and writes down when each piece of the assistant's audio arrived.

Ten browsers on two cores measure the CPU, not the network or the gateway's pacing. A
`Listener` costs next to nothing, so many can talk at once; what it records (`EarTrace`) is
replayed afterwards into the web client's own player (web/src/audio/replay.ts, via
`harness.player_replay`), which counts the underruns and the jitter buffer the listener's ear
would have had.

The microphone: `lead_ms` of silence, then the utterance and `pause_ms` of silence, over and
over, in 20 ms frames sent on a fixed schedule (a late frame goes at once; the schedule is
kept). A frame is voiced when its peak reaches the gateway's own threshold, as in the web
client's ear clock.

`listen_apart` runs the listeners in a process of their own (`python -m harness.ear_trace`), away
from the benchmark's other work (the Realtime double, the impairment relay, the browsers'
driver), so an arrival time is when the audio arrived, not when a busy loop got round to it. The
monotonic clock is the machine's, so times compare across processes. The process also measures
its own loop's lag, the error bar of every arrival time (`LoopLag`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from contracts.browser import SAMPLE_RATE, SAMPLE_WIDTH, VOICED_PEAK
from harness.speech import frames, silence
from harness.stats import percentile

TESTS = Path(__file__).resolve().parents[1]  # where `python -m harness.ear_trace` runs
FRAME_MS = 20


def _voiced(pcm: bytes) -> bool:
    view = memoryview(pcm).cast("h")
    return max(map(abs, view), default=0) >= VOICED_PEAK


@dataclass
class EarTrace:
    """What one listener saw, on the machine's monotonic clock in milliseconds."""

    events: list[dict[str, Any]] = field(default_factory=list)  # replay.ts's ReplayEvent
    voiced_ms: list[float] = field(default_factory=list)  # when each voiced frame was sent
    voice_latency: list[tuple[float, float]] = field(default_factory=list)  # (at, gateway ms)
    answers: int = 0  # answers to the user's words that finished (speaking:false)
    errors: list[str] = field(default_factory=list)
    local_port: int = 0  # the socket's own port: how the impairment relay knows this session


@dataclass
class Listener:
    url: str  # wss://host:port (nginx, or the impairment relay in front of it)
    conversation_id: str
    utterance: bytes  # PCM16 mono 24 kHz
    lead_ms: int
    pause_ms: int
    tls: ssl.SSLContext | None = None
    trace: EarTrace = field(default_factory=EarTrace)

    async def run(self, answers: int, timeout_s: float) -> EarTrace:
        """Talk until `answers` answers to the user's own words have finished, or the timeout."""
        endpoint = f"{self.url}/api/realtime/pipecat/ws/{self.conversation_id}?format=raw"
        async with connect(endpoint, ssl=self.tls, max_size=None) as ws:
            self.trace.local_port = ws.local_address[1]
            done = asyncio.Event()
            sender = asyncio.create_task(self._speak(ws))
            receiver = asyncio.create_task(self._listen(ws, answers, done))
            finished = asyncio.create_task(done.wait())
            try:
                # Done, or the gateway closed the session first (refused, ended): no waiting on.
                await asyncio.wait(
                    {finished, receiver}, timeout=timeout_s, return_when="FIRST_COMPLETED"
                )
                if not done.is_set():
                    ended = "closed" if receiver.done() else "timeout"
                    self.trace.errors.append(f"{ended} after {self.trace.answers} answers")
            finally:
                finished.cancel()
                sender.cancel()
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(json.dumps({"type": "stop"}))
                receiver.cancel()
                await asyncio.gather(sender, receiver, return_exceptions=True)
        return self.trace

    async def _speak(self, ws: Any) -> None:
        lead = list(frames(silence(self.lead_ms), FRAME_MS))
        cycle = [(f, _voiced(f)) for f in frames(self.utterance + silence(self.pause_ms))]
        start = time.monotonic()
        i = 0
        while True:
            wait = start + i * FRAME_MS / 1000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            pcm, voiced = (lead[i], False) if i < len(lead) else cycle[(i - len(lead)) % len(cycle)]
            await ws.send(pcm)
            if voiced:
                self.trace.voiced_ms.append(time.monotonic() * 1000)
            i += 1

    async def _listen(self, ws: Any, answers: int, done: asyncio.Event) -> None:
        trace, events = self.trace, self.trace.events
        heard_from = 0  # voiced frames sent before the last time the assistant stopped
        async for message in ws:
            now = time.monotonic() * 1000
            if isinstance(message, bytes):
                samples = len(message) // SAMPLE_WIDTH
                events.append({"t": now, "type": "chunk", "samples": samples})
                continue
            event = json.loads(message)
            kind = event.get("type")
            if kind == "speaking" and event.get("speaking") is False:
                events.append({"t": now, "type": "speaking-ended"})
                if len(trace.voiced_ms) > heard_from:  # the user spoke since: an answer ended
                    heard_from = len(trace.voiced_ms)
                    trace.answers += 1
                    if trace.answers >= answers:
                        done.set()
            elif kind == "interruption":
                events.append({"t": now, "type": "clear"})
            elif kind == "latency" and event.get("metric") == "voice":
                trace.voice_latency.append((now, float(event["ms"])))
            elif kind == "error":
                trace.errors.append(str(event.get("code")))
            elif kind == "session" and event.get("state") == "stopped" and not done.is_set():
                trace.errors.append(f"stopped: {event.get('reason')}")


@dataclass
class LoopLag:
    """How late the listeners' loop woke from 10 ms sleeps, in ms: the error of arrival times."""

    samples: list[float] = field(default_factory=list)
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (at ms, lag ms) > 50 ms

    async def watch(self) -> None:
        while True:
            asked = time.monotonic()
            await asyncio.sleep(0.01)
            now = time.monotonic()
            lag = (now - asked - 0.01) * 1000
            self.samples.append(lag)
            if lag > 50:
                self.stalls.append((round(now * 1000, 1), round(lag, 1)))

    def summary(self) -> dict[str, Any]:
        lags = self.samples or [0.0]
        return {
            "p50_ms": round(percentile(lags, 50), 1),
            "p99_ms": round(percentile(lags, 99), 1),
            "max_ms": round(max(lags), 1),
            "stalls_over_50_ms": len(self.stalls),
        }


async def _listen_all(args: argparse.Namespace, utterance: bytes) -> dict[str, Any]:
    tls = None
    if args.url.startswith("wss:"):
        # The stack's certificate is made at setup for localhost; this measures audio, not TLS.
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    cycle_ms = len(utterance) * 1000 // (SAMPLE_RATE * SAMPLE_WIDTH) + args.pause_ms
    listeners = [
        Listener(
            args.url,
            f"{args.prefix}-{i}",
            utterance,
            # Spread over one cycle, so the sessions' turns do not all start at once.
            lead_ms=500 + i * cycle_ms // args.sessions,
            pause_ms=args.pause_ms,
            tls=tls,
        )
        for i in range(args.sessions)
    ]
    lag = LoopLag()
    watcher = asyncio.create_task(lag.watch())
    traces = await asyncio.gather(*(x.run(args.answers, args.timeout_s) for x in listeners))
    watcher.cancel()
    return {"traces": [asdict(t) for t in traces], "loop_lag": lag.summary()}


async def listen_apart(
    url: str,
    prefix: str,
    sessions: int,
    utterance: Path,
    *,
    pause_ms: int,
    answers: int,
    timeout_s: float,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> tuple[list[EarTrace], dict[str, Any]]:
    """`sessions` listeners in a process of their own: their traces and that loop's lag.
    `wrap` runs the process elsewhere (a capped link's namespace: `CappedLink.command`)."""
    command = [sys.executable, "-m", "harness.ear_trace", url, prefix, str(sessions)]
    command += [str(utterance), str(pause_ms), str(answers), str(timeout_s)]
    if wrap is not None:
        command = wrap(command)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, cwd=TESTS
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the listeners' process failed ({process.returncode})")
    result = json.loads(out)
    traces = [
        EarTrace(**{**t, "voice_latency": [tuple(v) for v in t["voice_latency"]]})
        for t in result["traces"]
    ]
    return traces, result["loop_lag"]


def main() -> None:
    parser = argparse.ArgumentParser(description="listeners; their traces as JSON on stdout")
    parser.add_argument("url")
    parser.add_argument("prefix", help="conversation ids are PREFIX-0, PREFIX-1, ...")
    parser.add_argument("sessions", type=int)
    parser.add_argument("utterance", help="a file of PCM16 mono 24 kHz")
    parser.add_argument("pause_ms", type=int)
    parser.add_argument("answers", type=int)
    parser.add_argument("timeout_s", type=float)
    args = parser.parse_args()
    import uvloop  # the gateway's loop too: the listeners should not be the slow side

    utterance = Path(args.utterance).read_bytes()
    print(json.dumps(uvloop.run(_listen_all(args, utterance))))


if __name__ == "__main__":
    main()
