"""Voice latency of the local brain: the end of the user's speech to the first audio of the answer,
beside a plain Pipecat bot built from Pipecat's own local services.

Starts a private redis-server, a tool-worker (its real command) against the fake agentic backend
(a thread of this process) and a voice-gateway (its real command) with VOICE_BRAIN=local: Silero
VAD and smart-turn end the turn, Whisper tiny.en transcribes, the command router decides (or, with
`--llm`, an OpenAI-compatible LLM: the fake chat server, a thread of this process, answering as
the router would, through tool calls), Piper speaks. Then, the gateway stopped, the baseline
(bench/baselines/plain_local.py, a process of its own): what a user would build instead, with
Pipecat 1.14's FastAPI transport, Silero VAD and the default turn strategies (smart-turn v3),
`WhisperSTTService` on the same model, `PiperTTSService` on the same voice, all at their
documented defaults, and the gateway's router in the LLM's place (`--no-baseline`: without it).

One session per server on the browser endpoint (raw format), the same client and the same
speech, like a live microphone: a sender streams 20 ms PCM16 24 kHz frames at real time the whole
session long, silence whenever no utterance is being said (the VAD needs the silence after the
speech to find its end). Each utterance is 300 ms of silence and the speech: short commands,
sentences with a 400-700 ms pause in the middle (two phrases, digital silence between), long
commands (6-7 s), in Piper's voice (deterministic) and espeak-ng's. The next one is said only
once the server is done with it, as a person would wait, so no answer is barged in: the answer
to the last user turn the utterance opened heard out (`speaking: false`, and the spoken summary of
a run that turn handed to the team or Claude Code), nothing new for SETTLE_S, and the server's
CPU back to idle (a transcript still being decoded sends nothing until it is done, and then
may open a turn of its own).

Per utterance:
- client latency: the time the frame holding the utterance's last voiced sample (peak >= 500,
  the gateway's own threshold, per 20 ms frame) was sent -> the arrival of the first audio frame
  after it (both `time.monotonic()` in this process);
- the gateway's own figures (`latency` messages after the first audio of the answer to its last
  user turn): `voice` (last voiced frame in -> first audio out, inside the gateway),
  `upstream_first_byte`, and the stages `end_of_turn_wait`, `speech_recognition`, `brain`,
  `speech_synthesis_first_byte`. Derived: `vad_stop` = voice - end_of_turn_wait -
  upstream_first_byte (last voiced frame -> the VAD's stop), so voice = vad_stop +
  end_of_turn_wait + brain + speech_synthesis_first_byte; speech_recognition runs inside
  end_of_turn_wait (both start at the VAD's stop). The baseline sends none;
- cut off: answer audio or a `function_call` arrived before the frame holding the utterance's
  last voiced sample was sent (the speaker had more to say), or the user's words fell in more
  than one user turn (each turn starts with an `interruption`; not "more than one transcript":
  Whisper sends one per VAD segment, two for a paused sentence kept in one turn).
  `false_cutoff_pct` is over the utterances with a pause;
- word accuracy: the user transcripts joined, against the text said
  (`harness.local_speech.word_accuracy`: 1 - word error rate), mean over utterances, per voice.
The first utterance of the session is a warm-up, reported apart and left out of the figures.
With `--llm` the `brain` stage ends at the start of the model's first response, which is the tool
call when there is one (no words): the tool's round trip and the second completion, whose text is
spoken, then fall in `speech_synthesis_first_byte`. The fake answers at once
(`--llm-first-token-ms` adds a delay): the figures are the pipeline's, not a model's.

Each session starts once the machine is quiet (full run: waiting up to 2 minutes for other
processes to leave the CPU); the CPU other processes used during it is reported (`other_cpu_pct`,
% of one core), as the server's own (`gateway_cpu_pct`): on 2 cores, any other load shows up in
the figures. `rss_mb` is the most resident memory the server process (and its children) held
during its session, sampled every half second (the baseline loads its models per session).

Targets (reported in `targets_met`, not enforced): p50 at most 500 ms, at least 1.8 times
faster than the baseline at p50, at most 5 % of the paused sentences cut, the gateway's RSS at
most 700 MB, and word accuracy no lower than the first full run of this list (88.7 %).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from harness.local_speech import piper_pcm, word_accuracy  # noqa: E402
from harness.metrics import samples  # noqa: E402
from harness.speech import duration_ms, frames, silence, speech_pcm  # noqa: E402
from harness.stats import percentile  # noqa: E402
from harness.voice_clients import VoiceClient  # noqa: E402
from stack import (  # noqa: E402
    ManagedProcess,
    ProcessSpec,
    free_port,
    redis_spec,
    tool_worker_spec,
    voice_gateway_spec,
)
from voice_gateway.brains.command_router import route  # noqa: E402

# Each key of the result, the bound it is held to, and whether that bound is a ceiling.
TARGETS: dict[str, tuple[float, bool]] = {
    "p50_ms": (500, True),
    "speedup": (1.8, False),
    "false_cutoff_pct": (5, True),
    "rss_mb": (700, True),
    "word_accuracy_pct": (88.7, False),  # the first full run of this list, 2026-12-04
}
FRAME_MS = 20
FRAME_S = FRAME_MS / 1000
LEAD_SILENCE_MS = 300
ANSWER_TIMEOUT_S = 45.0
SETTLE_S = 0.3  # after the answers: no new one starts within this (else it is waited for too)
# Nothing from the server for this long, the assistant silent: no further answer is coming.
# Longer than Pipecat's default wait for an unfinished turn (5 s) and Whisper after it.
QUIET_S = 8.0
RSS_EVERY_S = 0.5
# The server is done with an utterance once it uses less than this much CPU over the window
# (idle, it uses a tenth of a core; decoding speech, on a machine others keep busy, can get less
# than half of one for a moment).
IDLE_CORES = 0.3
IDLE_WINDOW_S = 0.5
IDLE_MAX_S = 30.0
# A user turn starting this soon after a transcript was opened by it (see `worded_turns`).
OPENED_BY_TRANSCRIPT_S = 0.1
EDGE_PEAK = 50  # below this, a phrase's edge is silence (trimmed around a pause)
SEND_TOOLS = ("send_to_nested", "send_to_claude_code")  # a finished run is summarised aloud
STAGES = (
    "vad_stop",
    "end_of_turn_wait",
    "speech_recognition",
    "brain",
    "speech_synthesis_first_byte",
    "upstream_first_byte",
)

# The baseline's figures beside the headline keys (`baseline_p50_ms`...), in `baseline`.
BASELINE_DETAIL = (
    "utterances",
    "mean_ms",
    "min_ms",
    "max_ms",
    "unanswered",
    "unexpected_route",
    "cutoffs_unpaused",
    "cut_off",
    "slowest",
    "warm_up_ms",
    "cpu_pct",
    "other_cpu_pct",
    "barge_ins",
    "mic_max_late_ms",
)

# The parts the gateway's voice figure adds up to (speech_recognition runs in end_of_turn_wait).
VOICE_PARTS = ("vad_stop", "end_of_turn_wait", "brain", "speech_synthesis_first_byte")


@dataclass(frozen=True)
class Saying:
    """What the user says: one phrase, or phrases with a pause between them (a speaker
    hesitating mid-sentence), in Piper's voice or espeak-ng's."""

    parts: tuple[str, ...]
    pause_ms: int = 0  # between the parts: digital silence, the phrases' own edges trimmed
    voice: Literal["piper", "espeak"] = "piper"

    @property
    def text(self) -> str:
        """What was said, as one sentence."""
        return " ".join(self.parts)

    def describe(self) -> str:
        said = f" <{self.pause_ms} ms> ".join(self.parts)
        return f"{said!r}{' (espeak)' if self.voice == 'espeak' else ''}"


def piper(text: str) -> Saying:
    return Saying((text,))


def espeak(text: str) -> Saying:
    return Saying((text,), voice="espeak")


def paused(
    first: str, pause_ms: int, rest: str, voice: Literal["piper", "espeak"] = "piper"
) -> Saying:
    return Saying((first, rest), pause_ms, voice)


WARM_UP = piper("Pause the team.")
# Commands the router understands (a tool call) and one it does not (the help reply, 9 s long).
# The first list had 24; with the lists below and the baseline's session, a run is to stay near
# 8 minutes: left out are four more help replies and commands said again in other words.
SHORT = [
    piper(text)
    for text in (
        "Ask the team to write a haiku about the sea.",
        "Tell Claude to fix the failing test.",
        "Stop Claude.",
        "Start over.",
        "Stop the team.",
        "New conversation.",
        "Tell Claude to stop.",
        "What time is it?",
        "Pause Claude.",
    )
]
# A pause of 400-700 ms mid-sentence, where a speaker hesitates: a turn that ends in it is cut.
PAUSED = [
    paused("Ask the team to", 500, "write a haiku about the sea."),
    paused("Tell Claude to", 600, "run the unit tests."),
    paused("Have the team", 450, "summarise the meeting notes."),
    paused("Ask Claude to", 700, "add a readme to the project."),
    paused("Ask the team to", 600, "plan a trip to Lisbon.", voice="espeak"),
]
# Long commands (6-7 s of speech, commas and all): Whisper hears them in several segments.
LONG = [
    piper(
        "Ask the team to look at the failing build, find out which commit broke it, "
        "and write a short report for me by tomorrow morning."
    ),
    piper(
        "Stop the team, they are going in the wrong direction, changing files they should not "
        "touch, and I want to look at what they have done so far."
    ),
]
# A second voice: a synthetic one Whisper has heard less of than Piper's.
ESPEAK = [
    espeak("Stop the team."),
    espeak("Start over."),
    espeak("Tell Claude to fix the failing test."),
]
UTTERANCES = [*SHORT, *PAUSED, *LONG, *ESPEAK]
GROUPS = {"short": SHORT, "paused": PAUSED, "long": LONG, "espeak": ESPEAK}
# Both servers in under 3 minutes (2 on a quiet machine): a short command, two sentences with a
# pause (one in espeak's voice) and a long command, a pause (a task handed off is read back when
# its run ends: seconds more). A turn cut at a pause gets the 9 s help reply.
QUICK_UTTERANCES = [piper("Stop the team."), PAUSED[0], PAUSED[4], LONG[1]]


def log(message: str) -> None:
    print(f"[voice_latency] {message}", file=sys.stderr, flush=True)


def peak(frame: bytes) -> int:
    return int(np.abs(np.frombuffer(frame, dtype="<i2").astype(np.int32)).max(initial=0))


# --- the microphone -------------------------------------------------------------------------


@dataclass
class Utterance:
    saying: Saying
    frames: list[bytes]
    last_voiced: int  # index of the frame with the last voiced sample
    voiced_sent_at: float | None = None
    finished_at: float | None = None  # when its last frame was sent: the speaker is done
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, saying: Saying, pcm: bytes) -> Utterance:
        chunks = list(frames(silence(LEAD_SILENCE_MS) + pcm, FRAME_MS))
        voiced = [i for i, chunk in enumerate(chunks) if peak(chunk) >= VOICED_PEAK]
        if not voiced:
            raise ValueError(f"no voiced frame in {saying.text!r}")
        return cls(saying, chunks, voiced[-1])


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
                    current.finished_at = time.monotonic()
                    current.done.set()
                    current = None
            self.frames_sent += 1
            await asyncio.sleep(max(0.0, start + self.frames_sent * FRAME_S - time.monotonic()))


# --- what the server says -------------------------------------------------------------------


@dataclass
class Heard:
    """The server's messages and audio frames, each with its arrival time."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio_at: list[float] = field(default_factory=list)
    turn_starts: list[float] = field(default_factory=list)  # each user turn's `interruption`
    barge_ins: int = 0  # ... of which while the assistant was speaking
    last_at: float = 0.0  # the last arrival of anything

    async def receive(self, ws: ClientConnection, client: VoiceClient) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                now = self.last_at = time.monotonic()
                decoded = client.decode(frame)
                if decoded.audio is not None:
                    self.audio_at.append(now)
                elif decoded.interruption:
                    self.turn_starts.append(now)
                    self.barge_ins += self.speaking() is True
                elif decoded.message is not None:
                    self.messages.append((now, decoded.message))

    def since(self, at: float, type_: str, until: float = math.inf) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if at <= t < until and m["type"] == type_]

    def assistant_said(self, at: float) -> list[str]:
        return [m["text"] for m in self.since(at, "transcription") if m["role"] == "assistant"]

    def user_said(self, at: float) -> list[tuple[float, str]]:
        return [
            (t, m["text"])
            for t, m in self.messages
            if t >= at and m["type"] == "transcription" and m["role"] == "user"
        ]

    def turns_since(self, at: float) -> list[float]:
        """When each user turn started since `at` (the server's interruption at its start)."""
        return [t for t in self.turn_starts if t >= at]

    def started_speaking(self, at: float) -> float | None:
        """When the assistant first started speaking since `at`."""
        return next(
            (t for t, m in self.messages if t >= at and m["type"] == "speaking" and m["speaking"]),
            None,
        )

    def speaking(self) -> bool | None:
        """The last `speaking` state, None before the first."""
        states = [m["speaking"] for _, m in self.messages if m["type"] == "speaking"]
        return bool(states[-1]) if states else None

    def first_audio_after(self, at: float) -> float | None:
        return next((t for t in self.audio_at if t > at), None)


@dataclass
class Turn:
    saying: Saying
    expected_tool: str | None
    latency_ms: float | None = None
    gateway_ms: dict[str, float] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # what the assistant said
    tools: list[str] = field(default_factory=list)
    user_turns: int = 0  # the user turns the server saw in this utterance
    worded_turns: int = 0  # ... of which the user's words fell in (more than 1: split)
    answered_early: bool = False  # answer audio or a tool call before the speaker finished
    error: str | None = None

    @property
    def routed_as_expected(self) -> bool:
        first = self.tools[0] if self.tools else None
        return first == self.expected_tool

    @property
    def cut_off(self) -> bool:
        """Answered before the speaker finished, or the words split over two user turns."""
        return self.answered_early or self.worded_turns > 1

    @property
    def accuracy(self) -> float:
        return word_accuracy(self.saying.text, " ".join(self.heard))

    def describe(self) -> str:
        client = f"{self.latency_ms:.0f}" if self.latency_ms is not None else "-"
        voice = self.gateway_ms.get("voice")
        stages = " ".join(f"{s}={self.gateway_ms[s]:.0f}" for s in STAGES if s in self.gateway_ms)
        cut = [
            *(["answered before the end"] if self.answered_early else []),
            *([f"split in {self.worded_turns} turns"] if self.worded_turns > 1 else []),
        ]
        return (
            f"{client} ms{f' (gateway voice {voice})' if voice is not None else ''} {stages} | "
            f"said {self.saying.describe()} heard {self.heard} tools {self.tools} "
            f"answered {[a if len(a) < 40 else a[:37] + '...' for a in self.answers]}"
            f"{' UNEXPECTED ROUTE' if not self.routed_as_expected else ''}"
            f"{' CUT OFF: ' + ', '.join(cut) if cut else ''}"
            f"{' ERROR ' + self.error if self.error else ''}"
        )


async def answered(heard: Heard, since: float) -> None:
    """Until the assistant has finished every answer this turn calls for, and none starts: the
    answer to the user's last turn, spoken after it began (a turn split by a pause has two; the
    words of the first one's answer played before the second turn cut it come as a transcript
    right after that turn's start, and it may have been cut before any), plus the spoken
    summary of each run that turn handed to the team or Claude Code. Once nothing has arrived
    for QUIET_S with the assistant silent, what came is all there is (an error if no answer
    came at all)."""
    began = time.monotonic()
    deadline = began + ANSWER_TIMEOUT_S

    def done() -> bool:
        last_turn = max(heard.turns_since(since), default=since)
        spoke = heard.started_speaking(last_turn)
        if spoke is None or heard.speaking() is not False:
            return False
        # Runs handed off in an earlier turn of a split utterance: their summary may have been
        # cut by the later turn, like that turn's answer.
        results = heard.since(last_turn, "function_result")
        runs = sum(1 for r in results if r["name"] in SEND_TOOLS and r["ok"])
        return len(heard.assistant_said(spoke)) >= 1 + runs

    def given_up() -> bool:
        quiet = time.monotonic() - max(heard.last_at, began) > QUIET_S
        return quiet and heard.speaking() is not True

    while True:
        while not done():
            if given_up():
                if heard.assistant_said(since):
                    return
                raise Unanswered(f"no answer, and nothing for {QUIET_S:g} s")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete answer in {ANSWER_TIMEOUT_S:g} s")
            await asyncio.sleep(0.02)  # polling what the receiver collected
        count = len(heard.messages)
        await asyncio.sleep(SETTLE_S)  # a late answer (a run's summary) would start in here
        if not any(m["type"] == "speaking" and m["speaking"] for _, m in heard.messages[count:]):
            return


class Unanswered(TimeoutError):
    """Nothing came from the server for QUIET_S, and no answer to the utterance."""


async def finished(heard: Heard, since: float, server_pid: int) -> None:
    """Until the server is done with the utterance: its answers heard out (or none, and nothing
    for QUIET_S), then the server idle with nothing new from it. Speech recognition sends
    nothing while it decodes (seconds, on a busy machine), and the transcript it then sends may
    end the turn or open one of its own: a next utterance said meanwhile would carry this one's
    late turn in its figures."""
    while True:
        unanswered: Unanswered | None = None
        try:
            await answered(heard, since)
        except Unanswered as exc:
            unanswered = exc
        seen = (len(heard.messages), len(heard.turn_starts))
        await server_idle(server_pid)
        if (len(heard.messages), len(heard.turn_starts)) == seen:
            if unanswered is not None:
                raise unanswered
            return


async def server_idle(pid: int) -> None:
    """Until the server (and its children) use less than IDLE_CORES over an IDLE_WINDOW_S, or
    IDLE_MAX_S passed. Listening to the microphone's silence costs it about a tenth of a core;
    decoding speech or synthesising it, a core or more."""
    deadline = time.monotonic() + IDLE_MAX_S
    while time.monotonic() < deadline:
        cpu0, t0 = tree_cpu_s(pid), time.monotonic()
        await asyncio.sleep(IDLE_WINDOW_S)  # the window the CPU is measured over
        if (tree_cpu_s(pid) - cpu0) / (time.monotonic() - t0) < IDLE_CORES:
            return
    log(f"note: the server was still busy after {IDLE_MAX_S:g} s; going on")


def worded_turns(starts: list[float], said: list[tuple[float, str]]) -> int:
    """How many user turns the user's words fell in (not how many transcripts: there is one per
    Whisper segment, so a sentence with a pause has two even in one turn). A transcript belongs
    to the last turn started before it, unless a turn starts right after it: Pipecat opens a
    turn for a transcript that comes when none is open (its turn ended without waiting for it),
    and the transcript is sent on its way to the aggregator, just before that turn's start."""
    return len({sum(1 for s in starts if s <= t + OPENED_BY_TRANSCRIPT_S) for t, _ in said})


@dataclass
class Session:
    turns: list[Turn]
    barge_ins: int  # interruptions while the assistant spoke: should be none
    mic_max_late_ms: float  # how far the microphone fell behind its schedule
    other_cpu_pct: float = 0.0  # CPU used by processes not of this bench (% of one core)
    server_cpu_pct: float = 0.0  # the server's CPU over the session (% of one core)
    rss_mb: float | None = None  # the server's peak resident memory during the session
    counts: dict[str, float] = field(default_factory=dict)  # the gateway's own, from /metrics


async def converse(
    url: str, sayings: list[Saying], speech: dict[Saying, bytes], label: str, server_pid: int
) -> Session:
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
            for saying in sayings:
                tool = route(saying.text).tool
                turn = Turn(saying, str(tool) if tool is not None else None)
                turns.append(turn)
                utterance = Utterance.of(saying, speech[saying])
                began = time.monotonic()
                mic.say(utterance)
                await utterance.done.wait()
                try:
                    await finished(heard, began, server_pid)
                except TimeoutError as exc:
                    turn.error = str(exc)
                observe(turn, heard, utterance, began)
                took = time.monotonic() - began
                log(f"{label} {len(turns):2d}/{len(sayings)} [{took:4.1f} s] {turn.describe()}")
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


def observe(turn: Turn, heard: Heard, utterance: Utterance, began: float) -> None:
    """What the server did with one utterance, from what the client heard since it began."""
    assert utterance.voiced_sent_at is not None
    assert utterance.finished_at is not None
    first_audio = heard.first_audio_after(utterance.voiced_sent_at)
    if first_audio is not None:
        turn.latency_ms = (first_audio - utterance.voiced_sent_at) * 1000
    starts = heard.turns_since(began)
    # The gateway's figures for the turn the client's latency is of: the last one.
    for message in heard.since(max(starts, default=began), "latency"):
        turn.gateway_ms.setdefault(message["metric"], float(message["ms"]))
    parts = ("voice", "end_of_turn_wait", "upstream_first_byte")
    if all(p in turn.gateway_ms for p in parts):
        voice, wait, upstream = (turn.gateway_ms[p] for p in parts)
        turn.gateway_ms["vad_stop"] = round(voice - wait - upstream, 1)
    said = heard.user_said(began)
    turn.heard = [text for _, text in said]
    turn.answers = heard.assistant_said(began)
    turn.tools = [m["name"] for m in heard.since(began, "function_call")]
    turn.user_turns = len(starts)
    turn.worded_turns = worded_turns(starts, said)
    # The previous answers had ended before this utterance began: audio or a tool call before
    # its last voiced frame is an answer to part of it. Not its last frame: espeak's phrases end
    # in 360 ms of near-silence (peak under VOICED_PEAK), and an answer 300 ms after the last
    # word, inside that tail, had the speaker counted as cut off.
    spoken = utterance.voiced_sent_at
    early_audio = heard.first_audio_after(began)
    turn.answered_early = (early_audio is not None and early_audio < spoken) or bool(
        heard.since(began, "function_call", until=spoken)
    )


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


def tree_cpu_s(pid: int) -> float:
    """CPU seconds a process and its live children have used."""
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        for each in (process, *process.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = each.cpu_times()
                total += times.user + times.system
    return total


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB."""
    total = 0
    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        for each in (process, *process.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += each.memory_info().rss
    return total / 2**20


class PeakRss:
    """The most resident memory a server (and its children) held while in use, sampled every
    RSS_EVERY_S in a thread: the baseline builds its models per session and frees them when it
    ends, so a reading after the session would miss them."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self.peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self._pid))
            if self._stop.wait(RSS_EVERY_S):
                return


def measure(
    url: str,
    sayings: list[Saying],
    speech: dict[Saying, bytes],
    label: str,
    server_pid: int,
    pids: list[int],
) -> Session:
    """One session against a server, with the CPU it and everything else used meanwhile."""
    busy0, own0, server0 = busy_s(), own_cpu_s(pids), own_cpu_s([server_pid])
    t0 = time.monotonic()
    with PeakRss(server_pid) as rss:
        session = asyncio.run(converse(url, [WARM_UP, *sayings], speech, label, server_pid))
    elapsed = time.monotonic() - t0
    others = busy_s() - busy0 - (own_cpu_s(pids) - own0)
    session.other_cpu_pct = round(max(0.0, others) / elapsed * 100, 1)
    session.server_cpu_pct = round((own_cpu_s([server_pid]) - server0) / elapsed * 100, 1)
    session.rss_mb = round(rss.peak_mb, 1)
    return session


# --- the run --------------------------------------------------------------------------------


def pcm_of(saying: Saying) -> bytes:
    """The saying's audio: its phrases, and between them the pause, their own silent edges
    trimmed so the gap between the words is the pause."""
    speak = piper_pcm if saying.voice == "piper" else speech_pcm
    phrases = [speak(part) for part in saying.parts]
    if len(phrases) == 1:
        return phrases[0]
    gap = silence(saying.pause_ms)
    return gap.join(
        trimmed(pcm, start=i > 0, end=i < len(phrases) - 1) for i, pcm in enumerate(phrases)
    )


def trimmed(pcm: bytes, *, start: bool, end: bool) -> bytes:
    """`pcm` without the near-silence (under EDGE_PEAK) at its start and/or end."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.flatnonzero(samples >= EDGE_PEAK)
    if loud.size == 0:
        return pcm
    first = int(loud[0]) if start else 0
    last = int(loud[-1]) + 1 if end else samples.size
    return pcm[first * 2 : last * 2]


def render(sayings: list[Saying]) -> dict[Saying, bytes]:
    speech = {saying: pcm_of(saying) for saying in sayings}
    total = sum(duration_ms(pcm) for pcm in speech.values())
    log(f"{len(sayings)} utterances rendered, {total / 1000:.1f} s of speech")
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


def run(
    args: argparse.Namespace, work: Path, sayings: list[Saying]
) -> tuple[Session, Session | None, list[str]]:
    """The gateway's session, then (the gateway stopped) the baseline's, on the same speech."""
    session, speech, notes = run_gateway(args, work, sayings)
    if args.no_baseline:
        return session, None, notes
    baseline, baseline_notes = run_baseline(args, work, sayings, speech)
    return session, baseline, notes + baseline_notes


def run_gateway(
    args: argparse.Namespace, work: Path, sayings: list[Saying]
) -> tuple[Session, dict[Saying, bytes], list[str]]:
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
        if args.no_speculation:
            gateway_env["GATEWAY_SPECULATIVE_ANSWERS"] = "false"
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
        speech = render([WARM_UP, *sayings])
        gateway.wait_ready(timeout=180)
        log(f"gateway ready in {time.monotonic() - started:.1f} s (log: {gateway.log_path})")
        idle = wait_quiet(args.wait_quiet)
        log(f"{idle:.2f} cores busy before the gateway's session")
        url = f"ws://127.0.0.1:{port}/api/realtime/pipecat/ws/bench-voice-latency"
        pids = [os.getpid(), redis.pid, worker.pid, gateway.pid]
        session = measure(url, sayings, speech, "gateway ", gateway.pid, pids)
        session.counts = gateway_counts(f"http://127.0.0.1:{port}/metrics")
        gateway.stop()
        worker.stop()
        return session, speech, log_notes(gateway) + log_notes(worker)


# The gateway's counters worth a line in the result: its early work and speculative answers.
COUNTED = ("gateway_early_decodes_total", "gateway_speculative_answers_total")


def gateway_counts(url: str) -> dict[str, float]:
    """`COUNTED` series from the gateway's /metrics, keyed `name{label=value,...}`."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  # loopback only
        return samples(response.read().decode(), *COUNTED)


def run_baseline(
    args: argparse.Namespace, work: Path, sayings: list[Saying], speech: dict[Saying, bytes]
) -> tuple[Session, list[str]]:
    """bench/baselines/plain_local.py in a process of its own, as the gateway runs."""
    port = free_port()
    script = ROOT / "bench" / "baselines" / "plain_local.py"
    spec = ProcessSpec(
        "plain-local", [sys.executable, str(script), "--port", str(port)], listening(port)
    )
    baseline = ManagedProcess(spec, work)
    started = time.monotonic()
    try:
        baseline.start(timeout=60)
        log(f"baseline ready in {time.monotonic() - started:.1f} s (log: {baseline.log_path})")
        idle = wait_quiet(args.wait_quiet)
        log(f"{idle:.2f} cores busy before the baseline's session")
        url = f"ws://127.0.0.1:{port}/api/realtime/pipecat/ws/bench-voice-latency"
        session = measure(
            url, sayings, speech, "baseline", baseline.pid, [os.getpid(), baseline.pid]
        )
    finally:
        baseline.stop()
    return session, log_notes(baseline)


def listening(port: int) -> Callable[[], bool]:
    """Something accepts connections on `port` (the baseline has no health route)."""

    def accepts() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    return accepts


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def mean_pct(values: list[float]) -> float | None:
    return round(100 * statistics.fmean(values), 1) if values else None


def figures(session: Session) -> dict[str, Any]:
    """The figures the gateway and the baseline are compared on (the warm-up left out)."""
    measured = session.turns[1:]
    ok = [t for t in measured if t.latency_ms is not None and t.error is None]
    latencies = [t.latency_ms for t in ok if t.latency_ms is not None]
    paused = [t for t in measured if t.saying.pause_ms]
    accuracy = {
        voice: mean_pct([t.accuracy for t in measured if t.saying.voice == voice])
        for voice in ("piper", "espeak")
    }
    return {
        "utterances": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p90_ms": round(percentile(latencies, 90), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "min_ms": round(min(latencies), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "unanswered": len(measured) - len(ok),
        "unexpected_route": sum(1 for t in measured if not t.routed_as_expected),
        "paused_utterances": len(paused),
        "false_cutoff_pct": pct(sum(1 for t in paused if t.cut_off), len(paused)),
        # Long commands have their own pauses (commas): cut there, it is a cut-off too.
        "cutoffs_unpaused": sum(1 for t in measured if t.cut_off and not t.saying.pause_ms),
        "word_accuracy_pct": mean_pct([t.accuracy for t in measured]),
        "word_accuracy_piper_pct": accuracy["piper"],
        "word_accuracy_espeak_pct": accuracy["espeak"],
        "rss_mb": session.rss_mb,
        "cpu_pct": session.server_cpu_pct,
        "other_cpu_pct": session.other_cpu_pct,
        "barge_ins": session.barge_ins,
        "mic_max_late_ms": session.mic_max_late_ms,
        "warm_up_ms": round(session.turns[0].latency_ms, 1)
        if session.turns[0].latency_ms is not None
        else None,
        "slowest": [
            {"said": t.saying.text, "heard": t.heard, "ms": round(t.latency_ms or 0, 1)}
            for t in sorted(ok, key=lambda t: t.latency_ms or 0, reverse=True)[:3]
        ],
        "cut_off": [
            {"said": t.saying.describe(), "heard": t.heard, "turns": t.user_turns}
            for t in measured
            if t.cut_off
        ],
    }


def summarize(
    session: Session, baseline: Session | None, args: argparse.Namespace, wall_s: float
) -> dict[str, Any]:
    ours = figures(session)
    if ours["p50_ms"] is None:
        raise RuntimeError("no utterance was answered")
    ok = [t for t in session.turns[1:] if t.latency_ms is not None and t.error is None]
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
    theirs = figures(baseline) if baseline is not None else {}
    speedup = (
        round(theirs["p50_ms"] / ours["p50_ms"], 2) if theirs.get("p50_ms") is not None else None
    )
    return {
        "bench": "voice_latency",
        "brain": "llm" if args.llm else "router",
        "utterances": ours["utterances"],
        "p50_ms": ours["p50_ms"],
        "p90_ms": ours["p90_ms"],
        "baseline_p50_ms": theirs.get("p50_ms"),
        "baseline_p90_ms": theirs.get("p90_ms"),
        "speedup": speedup,
        "false_cutoff_pct": ours["false_cutoff_pct"],
        "baseline_false_cutoff_pct": theirs.get("false_cutoff_pct"),
        "paused_utterances": ours["paused_utterances"],
        "word_accuracy_pct": ours["word_accuracy_pct"],
        "word_accuracy_piper_pct": ours["word_accuracy_piper_pct"],
        "word_accuracy_espeak_pct": ours["word_accuracy_espeak_pct"],
        "baseline_word_accuracy_pct": theirs.get("word_accuracy_pct"),
        "baseline_word_accuracy_piper_pct": theirs.get("word_accuracy_piper_pct"),
        "baseline_word_accuracy_espeak_pct": theirs.get("word_accuracy_espeak_pct"),
        "rss_mb": ours["rss_mb"],
        "baseline_rss_mb": theirs.get("rss_mb"),
        "mean_ms": ours["mean_ms"],
        "min_ms": ours["min_ms"],
        "max_ms": ours["max_ms"],
        "gateway_voice_p50_ms": round(percentile(voice, 50), 1) if voice else None,
        "gateway_voice_p90_ms": round(percentile(voice, 90), 1) if voice else None,
        "client_minus_gateway_p50_ms": round(percentile(diffs, 50), 1) if diffs else None,
        "stages_p50_ms": stages,
        "dominant_stage": dominant,
        "targets": {key: bound for key, (bound, _) in TARGETS.items()},
        "warm_up_ms": ours["warm_up_ms"],
        "unanswered": ours["unanswered"],
        # The turn ended (stop timeout) before Whisper's transcript came; the late transcript
        # then opened a new turn: the slow path.
        "transcript_after_turn_end": sum(
            1 for t in ok if "voice" in t.gateway_ms and "speech_recognition" not in t.gateway_ms
        ),
        "unexpected_route": ours["unexpected_route"],
        "cutoffs_unpaused": ours["cutoffs_unpaused"],
        "cut_off": ours["cut_off"],
        "slowest": ours["slowest"],
        "barge_ins": ours["barge_ins"],
        "gateway_cpu_pct": ours["cpu_pct"],
        "other_cpu_pct": ours["other_cpu_pct"],
        "mic_max_late_ms": ours["mic_max_late_ms"],
        "baseline": {key: theirs[key] for key in BASELINE_DETAIL} if theirs else None,
        "llm_first_token_ms": args.llm_first_token_ms if args.llm else None,
        "speculation": not args.no_speculation and args.llm,
        "gateway_counts": session.counts,
        "wall_s": round(wall_s, 1),
        "quick": args.quick,
    }


def targets_met(result: dict[str, Any]) -> dict[str, bool | None]:
    """Each target: met, missed, or None when the run did not measure it (no baseline)."""
    met: dict[str, bool | None] = {}
    for key, (bound, ceiling) in TARGETS.items():
        value = result.get(key)
        met[key] = None if value is None else (value <= bound if ceiling else value >= bound)
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="4 utterances and the warm-up, under 3 minutes with the baseline",
    )
    parser.add_argument(
        "--llm", action="store_true", help="the LLM path (a fake OpenAI-compatible server)"
    )
    parser.add_argument(
        "--llm-first-token-ms", type=float, default=0.0, help="the fake LLM's time to first token"
    )
    parser.add_argument(
        "--no-speculation",
        action="store_true",
        help="the LLM starts only once the turn has ended (GATEWAY_SPECULATIVE_ANSWERS=false)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="the gateway only (no plain Pipecat bot)"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        metavar="S",
        help="wait up to S seconds for other processes to leave the CPU before each session "
        "(default: 0 quick, 120)",
    )
    parser.add_argument(
        "--say", action="append", metavar="TEXT", help="say these instead (repeatable; Piper)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(GROUPS),
        help="say only this group of the full list (repeatable): to look into one kind",
    )
    parser.add_argument(
        "--log-dir", type=Path, help="keep the processes' logs here (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.say:
        sayings = [piper(text) for text in args.say]
    elif args.only:
        sayings = [saying for group in args.only for saying in GROUPS[group]]
    else:
        sayings = QUICK_UTTERANCES if args.quick else UTTERANCES
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 120.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        work = args.log_dir or Path(tmp)
        session, baseline, notes = run(args, work, sayings)
    wall_s = time.monotonic() - started
    for line in notes[:20]:
        log(f"log: {line[:300]}")
    if len(notes) > 20:
        log(f"log: ... {len(notes) - 20} more distinct warning/error lines")
    result = summarize(session, baseline, args, wall_s)
    result["log_warnings"] = len(notes)
    result["targets_met"] = targets_met(result)
    log(
        f"p50 {result['p50_ms']} ms, p90 {result['p90_ms']} ms over {result['utterances']} "
        f"utterances; stages p50 {result['stages_p50_ms']}; targets met: {result['targets_met']}"
    )
    if baseline is not None:
        log(
            f"baseline p50 {result['baseline_p50_ms']} ms, p90 {result['baseline_p90_ms']} ms: "
            f"speed-up {result['speedup']}x; false cut-offs {result['false_cutoff_pct']}% "
            f"(baseline {result['baseline_false_cutoff_pct']}%)"
        )
    for who, cpu in (
        ("gateway", result["other_cpu_pct"]),
        ("baseline", (result["baseline"] or {}).get("other_cpu_pct", 0)),
    ):
        if cpu and cpu > 20:
            log(
                f"note: other processes used {cpu}% of a core during the {who}'s session: "
                "the figures include their load"
            )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
