"""Voice latency of the local brain: the end of the user's speech to the first audio of the answer.

Starts a private redis-server, a tool-worker (its real command) against the fake agentic backend
(a thread of this process) and a voice-gateway (its real command) with VOICE_BRAIN=local: Silero
VAD and smart-turn end the turn, Whisper tiny.en transcribes, the command router decides (or, with
`--llm`, an OpenAI-compatible LLM: the fake chat server, a thread of this process, answering as
the router would, through tool calls), Piper speaks.

One session on the browser endpoint (raw format) hears a list of short commands, Piper speech
(deterministic), like a live microphone: a sender streams 20 ms PCM16 24 kHz frames at real time
the whole session long, silence whenever no utterance is being said (the VAD needs the silence
after the speech to find its end). Each utterance is 300 ms of silence and the speech; the next
one is said only once the assistant has finished answering (a `speaking: false` after the count
of assistant transcripts reached what the turn calls for: one answer, plus the spoken summary of a
run handed to the team or Claude Code), as a person would, so no answer is barged in.

Per utterance:
- client latency: the time the frame holding the utterance's last voiced sample (peak >= 500,
  the gateway's own threshold, per 20 ms frame) was sent -> the arrival of the first audio frame
  after it (both `time.monotonic()` in this process);
- the gateway's own figures (`latency` messages after the first audio of the answer): `voice`
  (last voiced frame in -> first audio out, inside the gateway), `upstream_first_byte`, and the
  stages `end_of_turn_wait`, `speech_recognition`, `brain`, `speech_synthesis_first_byte`.
  Derived: `vad_stop` = voice - end_of_turn_wait - upstream_first_byte (last voiced frame -> the
  VAD's stop), so voice = vad_stop + end_of_turn_wait + brain + speech_synthesis_first_byte;
  speech_recognition runs inside end_of_turn_wait (both start at the VAD's stop).
The first utterance of the session is a warm-up, reported apart and left out of the figures.
With `--llm` the `brain` stage ends at the start of the model's first response, which is the tool
call when there is one (no words): the tool's round trip and the second completion, whose text is
spoken, then fall in `speech_synthesis_first_byte`. The fake answers at once
(`--llm-first-token-ms` adds a delay): the figures are the pipeline's, not a model's.

The session starts once the machine is quiet (full run: waiting up to 2 minutes for other
processes to leave the CPU); the CPU other processes used during it is reported (`other_cpu_pct`,
% of one core), as the gateway's own (`gateway_cpu_pct`): on 2 cores, any other load shows up in
the figures.

Target (reported, not enforced): p50 at most 800 ms with the command router on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from contracts.browser import VOICED_PEAK

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.agentic_backend import FakeAgenticBackend  # noqa: E402
from fakes.openai_chat import (  # noqa: E402
    CallTool,
    FakeChatServer,
    RecordedRequest,
    Reply,
    Say,
    default_scenario,
)
from harness.local_speech import piper_pcm  # noqa: E402
from harness.speech import duration_ms, frames, silence  # noqa: E402
from harness.stats import percentile  # noqa: E402
from harness.voice_clients import VoiceClient  # noqa: E402
from stack import (  # noqa: E402
    ManagedProcess,
    free_port,
    redis_spec,
    tool_worker_spec,
    voice_gateway_spec,
)
from voice_gateway.brains.command_router import route  # noqa: E402

TARGET_P50_MS = 800
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
LEAD_SILENCE_MS = 300
ANSWER_TIMEOUT_S = 45.0
SETTLE_S = 0.3  # after the answers: no new one starts within this (else it is waited for too)
SEND_TOOLS = ("send_to_nested", "send_to_claude_code")  # a finished run is summarised aloud
STAGES = (
    "vad_stop",
    "end_of_turn_wait",
    "speech_recognition",
    "brain",
    "speech_synthesis_first_byte",
    "upstream_first_byte",
)

# The parts the gateway's voice figure adds up to (speech_recognition runs in end_of_turn_wait).
VOICE_PARTS = ("vad_stop", "end_of_turn_wait", "brain", "speech_synthesis_first_byte")

WARM_UP = "Pause the team."
# Commands the router understands (a tool call) and some it does not (the help reply).
UTTERANCES = [
    "Ask the team to write a haiku about the sea.",
    "Pause the team.",
    "What is the weather like?",
    "Tell Claude to fix the failing test.",
    "Stop Claude.",
    "Start over.",
    "Hold on.",
    "Have the team summarise the meeting notes.",
    "How are you today?",
    "Claude, add a readme to the project.",
    "Wait a second.",
    "Let's start again.",
    "Tell the team to stop.",
    "Play some music.",
    "Ask Claude to run the unit tests.",
    "Stop the team.",
    "New conversation.",
    "Tell Claude to stop.",
    "What time is it?",
    "Ask the team to plan a trip to Lisbon.",
    "Cancel that.",
    "Restart.",
    "Thank you.",
    "Pause Claude.",
]
QUICK_UTTERANCES = [  # short answers mostly (the help reply alone plays for 9 s)
    "Stop the team.",
    "Start over.",
    "What time is it?",
    "Hold on.",
    "Stop Claude.",
]


def log(message: str) -> None:
    print(f"[voice_latency] {message}", file=sys.stderr, flush=True)


def peak(frame: bytes) -> int:
    return int(np.abs(np.frombuffer(frame, dtype="<i2").astype(np.int32)).max(initial=0))


# --- the microphone -------------------------------------------------------------------------


@dataclass
class Utterance:
    text: str
    frames: list[bytes]
    last_voiced: int  # index of the frame with the last voiced sample
    voiced_sent_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, text: str, pcm: bytes) -> Utterance:
        chunks = list(frames(silence(LEAD_SILENCE_MS) + pcm, FRAME_MS))
        voiced = [i for i, chunk in enumerate(chunks) if peak(chunk) >= VOICED_PEAK]
        if not voiced:
            raise ValueError(f"no voiced frame in {text!r}")
        return cls(text, chunks, voiced[-1])


class Microphone:
    """Sends a 20 ms frame every 20 ms on one monotonic schedule: an utterance's frames while
    one is being said, silence otherwise."""

    def __init__(self, ws: ClientConnection, client: VoiceClient) -> None:
        self._ws = ws
        self._client = client
        self._queue: deque[Utterance] = deque()
        self._silence = client.audio(silence(FRAME_MS))
        self.frames_sent = 0
        self.max_late_s = 0.0

    def say(self, utterance: Utterance) -> None:
        self._queue.append(utterance)

    async def run(self) -> None:
        start = time.monotonic()
        current: Utterance | None = None
        index = 0
        while True:
            if current is None and self._queue:
                current, index = self._queue.popleft(), 0
            due = start + self.frames_sent * FRAME_S
            self.max_late_s = max(self.max_late_s, time.monotonic() - due)
            if current is None:
                await self._ws.send(self._silence)
            else:
                await self._ws.send(self._client.audio(current.frames[index]))
                if index == current.last_voiced:
                    current.voiced_sent_at = time.monotonic()
                index += 1
                if index == len(current.frames):
                    current.done.set()
                    current = None
            self.frames_sent += 1
            await asyncio.sleep(max(0.0, start + self.frames_sent * FRAME_S - time.monotonic()))


# --- what the gateway says ------------------------------------------------------------------


@dataclass
class Heard:
    """The gateway's messages and audio frames, each with its arrival time."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio_at: list[float] = field(default_factory=list)
    interruptions: int = 0  # sent at each turn the user starts
    barge_ins: int = 0  # ... of which while the assistant was speaking

    async def receive(self, ws: ClientConnection, client: VoiceClient) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                now = time.monotonic()
                decoded = client.decode(frame)
                if decoded.audio is not None:
                    self.audio_at.append(now)
                elif decoded.interruption:
                    self.interruptions += 1
                    self.barge_ins += self.speaking() is True
                elif decoded.message is not None:
                    self.messages.append((now, decoded.message))

    def since(self, at: float, type_: str) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if t >= at and m["type"] == type_]

    def assistant_said(self, at: float) -> list[str]:
        return [m["text"] for m in self.since(at, "transcription") if m["role"] == "assistant"]

    def speaking(self) -> bool | None:
        """The last `speaking` state, None before the first."""
        states = [m["speaking"] for _, m in self.messages if m["type"] == "speaking"]
        return bool(states[-1]) if states else None

    def first_audio_after(self, at: float) -> float | None:
        return next((t for t in self.audio_at if t > at), None)


@dataclass
class Turn:
    text: str
    expected_tool: str | None
    latency_ms: float | None = None
    gateway_ms: dict[str, float] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def routed_as_expected(self) -> bool:
        first = self.tools[0] if self.tools else None
        return first == self.expected_tool

    def describe(self) -> str:
        client = f"{self.latency_ms:.0f}" if self.latency_ms is not None else "-"
        voice = self.gateway_ms.get("voice")
        stages = " ".join(f"{s}={self.gateway_ms[s]:.0f}" for s in STAGES if s in self.gateway_ms)
        return (
            f"{client} ms (gateway voice {voice if voice is not None else '-'}) {stages} | "
            f"said {self.text!r} heard {self.heard} tools {self.tools}"
            f"{' UNEXPECTED ROUTE' if not self.routed_as_expected else ''}"
            f"{' ERROR ' + self.error if self.error else ''}"
        )


async def answered(heard: Heard, since: float) -> None:
    """Until the assistant has finished every answer this turn calls for, and none starts."""
    deadline = time.monotonic() + ANSWER_TIMEOUT_S

    def done() -> bool:
        results = heard.since(since, "function_result")
        runs = sum(1 for r in results if r["name"] in SEND_TOOLS and r["ok"])
        return len(heard.assistant_said(since)) >= 1 + runs and heard.speaking() is False

    while True:
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete answer in {ANSWER_TIMEOUT_S:g} s")
            await asyncio.sleep(0.02)  # polling what the receiver collected
        count = len(heard.messages)
        await asyncio.sleep(SETTLE_S)  # a late answer (a run's summary) would start in here
        if not any(m["type"] == "speaking" and m["speaking"] for _, m in heard.messages[count:]):
            return


@dataclass
class Session:
    turns: list[Turn]
    barge_ins: int  # interruptions while the assistant spoke: should be none
    mic_max_late_ms: float  # how far the microphone fell behind its schedule
    other_cpu_pct: float = 0.0  # CPU used by processes not of this bench (% of one core)
    gateway_cpu_pct: float = 0.0  # the gateway's CPU over the session (% of one core)


async def converse(url: str, texts: list[str], speech: dict[str, bytes]) -> Session:
    client = VoiceClient("raw")
    heard = Heard()
    turns: list[Turn] = []
    async with connect(url, max_size=2**22) as ws:
        receiver = asyncio.create_task(heard.receive(ws, client))
        mic = Microphone(ws, client)
        sender = asyncio.create_task(mic.run())
        try:
            while not heard.since(0, "session"):
                if receiver.done():
                    raise RuntimeError("the session closed before it started")
                await asyncio.sleep(0.02)  # waiting for the `session started` message
            await answered(heard, 0)  # the greeting: a person hears it out before speaking
            for text in texts:
                tool = route(text).tool
                turn = Turn(text, str(tool) if tool is not None else None)
                turns.append(turn)
                utterance = Utterance.of(text, speech[text])
                began = time.monotonic()
                mic.say(utterance)
                await utterance.done.wait()
                try:
                    await answered(heard, began)
                except TimeoutError as exc:
                    turn.error = str(exc)
                assert utterance.voiced_sent_at is not None
                first_audio = heard.first_audio_after(utterance.voiced_sent_at)
                if first_audio is not None:
                    turn.latency_ms = (first_audio - utterance.voiced_sent_at) * 1000
                for message in heard.since(began, "latency"):
                    turn.gateway_ms.setdefault(message["metric"], float(message["ms"]))
                parts = ("voice", "end_of_turn_wait", "upstream_first_byte")
                if all(p in turn.gateway_ms for p in parts):
                    voice, wait, upstream = (turn.gateway_ms[p] for p in parts)
                    turn.gateway_ms["vad_stop"] = round(voice - wait - upstream, 1)
                turn.heard = [
                    m["text"] for m in heard.since(began, "transcription") if m["role"] == "user"
                ]
                turn.tools = [m["name"] for m in heard.since(began, "function_call")]
                took = time.monotonic() - began
                log(f"{len(turns):2d}/{len(texts)} [{took:4.1f} s] {turn.describe()}")
                if receiver.done():
                    raise RuntimeError(f"the session ended: {heard.since(0, 'session')[-1:]}")
            await ws.send(client.stop())
            await asyncio.wait_for(receiver, 10)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    if mic.max_late_s > 0.1:
        log(f"note: the microphone fell up to {mic.max_late_s * 1000:.0f} ms behind schedule")
    if heard.barge_ins:
        log(f"note: {heard.barge_ins} interruption(s) while the assistant spoke (barge-in)")
    return Session(turns, heard.barge_ins, round(mic.max_late_s * 1000, 1))


# --- the fake LLM (--llm) -------------------------------------------------------------------


def router_as_llm(request: RecordedRequest) -> Reply:
    """The fake model decides as the command router does, through tool calls: the same answers
    by the LLM path (a tool call, then "Done: <result>" after the tool's result)."""
    text = request.last_user_text or ""
    last = request.last_message
    if last is not None and last.get("role") == "user" and "RESULT]" in text[:16]:
        return Say("The work is finished.")  # a run's end: a short summary
    if last is None or last.get("role") != "user":
        return default_scenario(request)  # after a tool result: "Done: <result>"
    command = route(text)
    if command.tool is None:
        return Say("I can hand a task to the team or to Claude Code.")
    arguments = {"text": command.text} if command.text is not None else {}
    return CallTool(str(command.tool), arguments)


# --- the machine ---------------------------------------------------------------------------


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def own_cpu_s(pids: list[int]) -> float:
    """CPU seconds used by these processes (and their reaped children)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def wait_quiet(max_s: float, cores: float = 0.3) -> float:
    """Wait (up to `max_s`) until the machine uses less than `cores` of CPU over a second;
    returns the last reading, in cores."""
    deadline = time.monotonic() + max_s
    while True:
        used = psutil.cpu_percent(interval=1.0) / 100 * (psutil.cpu_count() or 1)
        if used < cores or time.monotonic() >= deadline:
            return float(used)
        log(f"waiting for a quiet machine: {used:.2f} cores busy")


# --- the run --------------------------------------------------------------------------------


def render(texts: list[str]) -> dict[str, bytes]:
    speech = {text: piper_pcm(text) for text in texts}
    total = sum(duration_ms(pcm) for pcm in speech.values())
    log(f"{len(texts)} utterances rendered, {total / 1000:.1f} s of speech")
    return speech


def log_notes(process: ManagedProcess) -> list[str]:
    """The warnings and errors in a process's log, each distinct line once."""
    try:
        lines = process.log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    keys = ("| WARNING", "| ERROR", "| CRITICAL", "[warning", "[error", "Traceback", "Warning:")
    notes: dict[str, int] = {}
    for line in lines:
        if any(k in line for k in keys):
            key = line.split(" | ", 1)[-1] if " | " in line else line  # no timestamp: dedupe
            notes[key] = notes.get(key, 0) + 1
    name = process.spec.name
    return [f"{name}: {line} (x{n})" if n > 1 else f"{name}: {line}" for line, n in notes.items()]


def run(args: argparse.Namespace, work: Path, texts: list[str]) -> tuple[Session, list[str]]:
    with contextlib.ExitStack() as stack:
        agentic = stack.enter_context(FakeAgenticBackend())
        redis = ManagedProcess(redis_spec(free_port(), work / "redis", appendonly=False), work)
        redis.start(timeout=20)
        stack.callback(redis.stop)
        worker_env = {
            "AGENTIC_WS_URL": agentic.url,
            "TOOL_WORKER_CONNECT_TIMEOUT_S": "1",
            "TOOL_WORKER_WORKER_ID": "bench-voice-latency",
        }
        worker = ManagedProcess(tool_worker_spec(free_port(), redis.spec.url, worker_env), work)
        worker.start(timeout=30)
        stack.callback(worker.stop)
        gateway_env = {
            "VOICE_BRAIN": "local",
            "OPENAI_API_KEY": "",
            "GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "1000",
            "GATEWAY_MAX_SESSIONS_PER_ADDRESS": "50",
            "GATEWAY_IDLE_TIMEOUT_S": "600",
            "GATEWAY_REPLICA": "bench-voice-latency",
        }
        if args.llm:
            llm = stack.enter_context(
                FakeChatServer(
                    scenario=router_as_llm, first_token_delay_s=args.llm_first_token_ms / 1000
                )
            )
            gateway_env |= {"LLM_BASE_URL": llm.url, "LLM_MODEL": "fake-local"}
        port = free_port()
        gateway = ManagedProcess(voice_gateway_spec(port, redis.spec.url, gateway_env), work)
        started = time.monotonic()
        gateway.start(wait=False)  # loads Whisper and Piper; the speech renders meanwhile
        stack.callback(gateway.stop)
        speech = render([WARM_UP, *texts])
        gateway.wait_ready(timeout=180)
        log(f"gateway ready in {time.monotonic() - started:.1f} s (log: {gateway.log_path})")
        idle = wait_quiet(args.wait_quiet)
        log(f"{idle:.2f} cores busy before the session")
        pids = [os.getpid(), redis.pid, worker.pid, gateway.pid]
        busy0, own0, gateway0 = busy_s(), own_cpu_s(pids), own_cpu_s([gateway.pid])
        t0 = time.monotonic()
        url = f"ws://127.0.0.1:{port}/api/realtime/pipecat/ws/bench-voice-latency"
        session = asyncio.run(converse(url, [WARM_UP, *texts], speech))
        elapsed = time.monotonic() - t0
        others = busy_s() - busy0 - (own_cpu_s(pids) - own0)
        session.other_cpu_pct = round(max(0.0, others) / elapsed * 100, 1)
        session.gateway_cpu_pct = round((own_cpu_s([gateway.pid]) - gateway0) / elapsed * 100, 1)
        gateway.stop()
        worker.stop()
        return session, log_notes(gateway) + log_notes(worker)


def summarize(session: Session, args: argparse.Namespace, wall_s: float) -> dict[str, Any]:
    warm, measured = session.turns[0], session.turns[1:]
    ok = [t for t in measured if t.latency_ms is not None and t.error is None]
    latencies = [t.latency_ms for t in ok if t.latency_ms is not None]
    if not latencies:
        raise RuntimeError("no utterance was answered")
    voice = [t.gateway_ms["voice"] for t in ok if "voice" in t.gateway_ms]
    diffs = [
        t.latency_ms - t.gateway_ms["voice"]
        for t in ok
        if t.latency_ms is not None and "voice" in t.gateway_ms
    ]
    stages = {
        stage: round(percentile(values, 50), 1)
        for stage in STAGES
        if (values := [t.gateway_ms[stage] for t in ok if stage in t.gateway_ms])
    }
    dominant = max((s for s in VOICE_PARTS if s in stages), key=lambda s: stages[s], default=None)
    p50 = percentile(latencies, 50)
    return {
        "bench": "voice_latency",
        "brain": "llm" if args.llm else "router",
        "utterances": len(latencies),
        "p50_ms": round(p50, 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "min_ms": round(min(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "gateway_voice_p50_ms": round(percentile(voice, 50), 1) if voice else None,
        "gateway_voice_p90_ms": round(percentile(voice, 90), 1) if voice else None,
        "client_minus_gateway_p50_ms": round(percentile(diffs, 50), 1) if diffs else None,
        "stages_p50_ms": stages,
        "dominant_stage": dominant,
        "target_p50_ms": TARGET_P50_MS,
        "target_met": p50 <= TARGET_P50_MS,
        "warm_up_ms": round(warm.latency_ms, 1) if warm.latency_ms is not None else None,
        "unanswered": len(measured) - len(ok),
        # The turn ended (stop timeout) before Whisper's transcript came; the late transcript
        # then opened a new turn: the slow path.
        "transcript_after_turn_end": sum(
            1 for t in ok if "voice" in t.gateway_ms and "speech_recognition" not in t.gateway_ms
        ),
        "unexpected_route": sum(1 for t in measured if not t.routed_as_expected),
        "slowest": [
            {"said": t.text, "heard": t.heard, "ms": round(t.latency_ms or 0, 1)}
            for t in sorted(ok, key=lambda t: t.latency_ms or 0, reverse=True)[:3]
        ],
        "barge_ins": session.barge_ins,
        "gateway_cpu_pct": session.gateway_cpu_pct,
        "other_cpu_pct": session.other_cpu_pct,
        "mic_max_late_ms": session.mic_max_late_ms,
        "llm_first_token_ms": args.llm_first_token_ms if args.llm else None,
        "wall_s": round(wall_s, 1),
        "quick": args.quick,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer utterances, under a minute")
    parser.add_argument(
        "--llm", action="store_true", help="the LLM path (a fake OpenAI-compatible server)"
    )
    parser.add_argument(
        "--llm-first-token-ms", type=float, default=0.0, help="the fake LLM's time to first token"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        metavar="S",
        help="wait up to S seconds for other processes to leave the CPU (default: 0 quick, 120)",
    )
    parser.add_argument(
        "--say", action="append", metavar="TEXT", help="say these instead (repeatable)"
    )
    parser.add_argument(
        "--log-dir", type=Path, help="keep the processes' logs here (default: a temp dir)"
    )
    args = parser.parse_args()
    texts = args.say or (QUICK_UTTERANCES if args.quick else UTTERANCES)
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 120.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        work = args.log_dir or Path(tmp)
        session, notes = run(args, work, texts)
    wall_s = time.monotonic() - started
    for line in notes[:20]:
        log(f"log: {line[:300]}")
    if len(notes) > 20:
        log(f"log: ... {len(notes) - 20} more distinct warning/error lines")
    result = summarize(session, args, wall_s)
    result["log_warnings"] = len(notes)
    log(
        f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms over {result['utterances']} "
        f"utterances (target p50 <= {TARGET_P50_MS} ms: "
        f"{'met' if result['target_met'] else 'NOT met'}); stages p50 {result['stages_p50_ms']}"
    )
    if result["other_cpu_pct"] > 20:
        log(
            f"note: other processes used {result['other_cpu_pct']}% of a core during the session: "
            "the figures include their load"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
