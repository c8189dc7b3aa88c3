"""Resume: voice sessions dropped mid-utterance and mid-reply, through nginx, and resumed.

The stack as real processes: Redis, the event-store, the voice-gateway and the nginx front (TLS),
with the fake OpenAI Realtime server as the brain (`--brain realtime`), the local brain (Silero
VAD, Whisper, Piper, the command router: `--brain local`), or both one after the other (`all`,
the default). Each round is one session of one conversation, from a client that behaves like
the web client (tests/harness/resuming_client.py):

1. It connects through nginx and speaks a sentence at real time (20 ms frames).
2. The connection drops without a close frame (the TCP connection aborted), either
   mid-utterance (40 % into the sentence) or mid-reply (at the reply's first audio).
3. For the gap (1-10 s, a fixed schedule) the client goes on capturing at real time, keeping
   every frame.
4. It reconnects with `?resume=` and its resume key, is answered, sends again what it kept, and
   waits for the assistant's answer to the sentence; then it hangs up.

Figures:
- `resumed_pct`: rounds whose resume was answered `resumed`.
- `resume_p50_ms`: from the reconnect's start (TCP, TLS, WebSocket upgrade, the resume request)
  to the first audio moving either way: the first frame the client sends again right after the
  `resumed` answer, or the first audio the gateway sends, whichever is first. Also
  `replay_first_audio_p50_ms`, mid-reply: from the reconnect's start to the first assistant
  audio sent again.
- `gap_audio_lost_ms`: microphone audio the client sent (before, during and after the gap) that
  never reached the pipeline (`gateway_audio_bytes_total{direction="in"}`, per round), in ms at
  24 kHz PCM16; with the Realtime brain also checked at the brain itself (the fake server's bytes
  received on that session's upstream).
- `duplicate_events`: stored events that should be there once and are not: a second
  `session_started` for a session, and a user transcript stored twice (the same words in the
  same conversation).
- `events_lost`: events the gateway produced (`gateway_events_published_total` + buffered +
  dropped, over the run) minus the events stored in SQLite once settled.

JSON last line. `--quick` (under 3 minutes): 6 Realtime rounds (gaps 1-10 s) and 2 local ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import ssl
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "ops" / "local"), str(ROOT / "tests")]

from fakes.openai_realtime import FakeRealtimeServer  # noqa: E402
from fakes.realtime.scenarios import Scenario, Speak  # noqa: E402
from harness.fault_stack import produced_by, scrape  # noqa: E402
from harness.redis_server import running_redis  # noqa: E402
from harness.resuming_client import ResumingClient  # noqa: E402
from harness.services import Processes  # noqa: E402
from harness.speech import frames, silence, speech_pcm  # noqa: E402
from harness.stats import percentile  # noqa: E402
from harness.waiting import wait_until  # noqa: E402
from stack import (  # noqa: E402
    ManagedProcess,
    event_store_spec,
    free_port,
    front_spec,
    voice_gateway_spec,
)

WEB_ROOT = ROOT / "web" / "dist"
GAPS_S = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
KINDS = ("mid_utterance", "mid_reply")
# The local brain's command router answers this with its (spoken) help: no tool is involved.
SAYING = "What can you do for me today? Tell me everything."
FRAME_MS = 20
BYTES_PER_MS = 48  # 24 kHz PCM16
# The Realtime brain's answer, long enough to drop in the middle of.
LONG_REPLY = Scenario(
    "bench_resume",
    user_transcripts=(SAYING,),
    turns=(Speak("Sure. I'll hand that to the team and tell you what they find.", 4.0),),
)


def log(message: str) -> None:
    print(f"[resume] {message}", file=sys.stderr, flush=True)


@dataclass
class Round:
    brain: str
    kind: str
    gap_s: float
    conversation: str
    resumed: bool = False
    refusal: str = ""
    resume_ms: float | None = None
    replay_first_audio_ms: float | None = None
    audio_sent_bytes: int = 0
    audio_in_bytes: int = 0  # what reached the pipeline
    upstream_bytes: int | None = None  # what reached the Realtime brain
    answered: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def gap_audio_lost_ms(self) -> float:
        reached = self.audio_in_bytes
        if self.upstream_bytes is not None:
            reached = min(reached, self.upstream_bytes)
        return max(0, self.audio_sent_bytes - reached) / BYTES_PER_MS


def audio_in(gateway: ManagedProcess) -> int:
    text = urllib.request.urlopen(f"{gateway.spec.url}/metrics", timeout=5).read().decode()  # noqa: S310
    for line in text.splitlines():
        if line.startswith('gateway_audio_bytes_total{direction="in"}'):
            return round(float(line.rpartition(" ")[2]))
    return 0


async def paced(client: ResumingClient, pcm: bytes, stop: asyncio.Event | None = None) -> None:
    """Frames of `pcm` at real time (an absolute schedule); the client keeps what it cannot
    send."""
    started = time.monotonic()
    for n, frame in enumerate(frames(pcm, FRAME_MS)):
        if stop is not None and stop.is_set():
            return
        await client.send(frame)
        await asyncio.sleep(max(0.0, started + (n + 1) * FRAME_MS / 1000 - time.monotonic()))


async def one_round(
    front_port: int,
    gateway: ManagedProcess,
    realtime: FakeRealtimeServer | None,
    r: Round,
    speech: bytes,
) -> Round:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the generated cert

    def url(resume: str | None) -> str:
        query = f"?resume={resume}" if resume else ""
        return f"wss://127.0.0.1:{front_port}/api/realtime/pipecat/ws/{r.conversation}{query}"

    client = ResumingClient(url, connect_options={"ssl": context})
    in_before = audio_in(gateway)
    await client.start()
    upstream = realtime.connections()[-1] if realtime is not None else None
    mic_off = asyncio.Event()  # the "microphone" keeps capturing silence until the round ends
    cut = int(len(speech) * 0.4) // 2 * 2
    if r.kind == "mid_utterance":
        await paced(client, speech[:cut])
        client.drop()
        dropped_at = time.monotonic()
        capture = asyncio.create_task(paced(client, speech[cut:] + silence(60_000), mic_off))
    else:
        capture = asyncio.create_task(paced(client, speech + silence(60_000), mic_off))
        await client.wait_for(client.audio_bytes, "the reply's first audio", timeout_s=60)
        client.drop()
        dropped_at = time.monotonic()
    await asyncio.sleep(max(0.0, dropped_at + r.gap_s - time.monotonic()))  # the gap itself
    heard_before = len(client.received)
    reconnect_at = time.monotonic()
    try:
        await client.resume()
    except Exception as exc:  # a refused or failed resume is the figure
        r.refusal = f"{type(exc).__name__}: {exc}"[:200]
    else:
        r.resumed = True
        r.notes.append(f"replayed {client.resumed[-1].get('replayed')}")
        with contextlib.suppress(AssertionError):
            await client.wait_for(
                lambda: [m for m in client.messages("transcription") if m["role"] == "assistant"],
                "the answer",
                timeout_s=60,
            )
            r.answered = True
    mic_off.set()
    await capture
    r.audio_sent_bytes = sum(len(f) for f in client.sent if isinstance(f, bytes))
    if r.resumed:
        # What was sent last reaches the pipeline, and the brain, within moments: wait for it
        # (bounded) before hanging up, which would drop what is still queued.
        with contextlib.suppress(AssertionError):
            await client.wait_for(
                lambda: (
                    audio_in(gateway) - in_before >= r.audio_sent_bytes
                    and (upstream is None or upstream.audio_in_bytes >= r.audio_sent_bytes)
                ),
                "the audio in, and at the brain",
                10,
            )
    if r.resumed and client.resumed_at is not None:
        # The kept frames go at once after the answer; the first audio back may come sooner.
        first_out = client.resumed_at
        back = [x.at for x in client.received[heard_before:] if isinstance(x.frame, bytes)]
        first_in = back[0] if back else first_out
        r.resume_ms = (min(first_out, first_in) - reconnect_at) * 1000
        if r.kind == "mid_reply" and back:
            r.replay_first_audio_ms = (back[0] - reconnect_at) * 1000
    r.audio_in_bytes = audio_in(gateway) - in_before
    if upstream is not None:
        r.upstream_bytes = upstream.audio_in_bytes
    await client.close()
    return r


def stored(db_path: Path) -> tuple[int, int, list[str]]:
    """Events stored, duplicates (a second session_started of a session, a user transcript
    stored twice in a conversation), and what the duplicates were."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        total = db.execute("SELECT count(*) FROM conversation_events").fetchone()[0]
        rows = db.execute(
            "SELECT conversation_id, type, payload FROM conversation_events ORDER BY id"
        ).fetchall()
    seen: set[tuple[str, str]] = set()
    duplicates: list[str] = []
    for conversation, kind, raw in rows:
        payload = json.loads(raw)
        if kind == "session_started":
            key = (conversation, f"started:{payload.get('session_id')}")
        elif kind == "transcript" and payload.get("role") == "user":
            key = (conversation, f"user:{payload.get('text')}")
        else:
            continue
        if key in seen:
            duplicates.append(f"{conversation} {key[1][:60]}")
        seen.add(key)
    return int(total), len(duplicates), duplicates


async def run_brain(
    brain: str, rounds: int, work: Path, redis_url: str, store_port: int, processes: Processes
) -> tuple[list[Round], int]:
    """`rounds` rounds with one brain; returns them and the events the gateway produced."""
    realtime: FakeRealtimeServer | None = None
    env = {
        "GATEWAY_MAX_SESSIONS_PER_ADDRESS": "100",
        "GATEWAY_CONNECTIONS_PER_MINUTE_PER_ADDRESS": "1000",
        "GATEWAY_REPLICA": f"bench-resume-{brain}",
    }
    if brain == "realtime":
        realtime = FakeRealtimeServer().start_in_thread()
        env |= {"OPENAI_API_KEY": "bench", "OPENAI_REALTIME_URL": realtime.url(LONG_REPLY)}
    else:
        env |= {"VOICE_BRAIN": "local", "OPENAI_API_KEY": ""}
    results: list[Round] = []
    try:
        gateway_port = free_port()
        gateway = ManagedProcess(voice_gateway_spec(gateway_port, redis_url, env), work / "logs")
        gateway.start(timeout=180)
        try:
            front_port = free_port()
            processes.start(
                front_spec(
                    work / f"front-{brain}",
                    front_port,
                    gateway_port=gateway_port,
                    event_store_port=store_port,
                    web_root=WEB_ROOT,
                )
            )
            speech = speech_pcm(SAYING)
            for n in range(rounds):
                r = Round(brain, KINDS[n % 2], GAPS_S[n % len(GAPS_S)], f"resume-{brain}-{n}")
                r = await one_round(front_port, gateway, realtime, r, speech)
                results.append(r)
                log(
                    f"{brain} {r.kind:<13} gap {r.gap_s:>4.1f} s: "
                    + (
                        f"resumed in {r.resume_ms:.0f} ms, lost {r.gap_audio_lost_ms:.0f} ms"
                        f" (sent {r.audio_sent_bytes}, in {r.audio_in_bytes},"
                        f" upstream {r.upstream_bytes}), {'; '.join(r.notes)},"
                        f" answered {r.answered}"
                        if r.resumed
                        else f"NOT resumed ({r.refusal})"
                    )
                )
            # Every session has ended (its last event written) before the count is read.
            wait_until(
                lambda: scrape(gateway.spec.url).get("gateway_sessions_active") == 0,
                timeout_s=30,
                what="every session ended",
            )
            produced = produced_by(scrape(gateway.spec.url), "gateway_events")
        finally:
            gateway.stop()
    finally:
        if realtime is not None:
            realtime.stop()
    return results, produced


def ms(values: list[float]) -> float | None:
    return round(statistics.median(values)) if values else None


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not (WEB_ROOT / "index.html").exists():
        sys.exit(f"no built page in {WEB_ROOT}: run `make web` first")
    started = time.monotonic()
    brains = ["realtime", "local"] if args.brain == "all" else [args.brain]
    counts = {"realtime": args.rounds, "local": args.local_rounds}
    with tempfile.TemporaryDirectory(prefix="av-resume-") as tmp:
        work = Path(tmp)
        processes = Processes(work / "logs")
        with running_redis(work / "redis") as redis:
            try:
                store_port = free_port()
                db = work / "events.db"
                store = processes.start(event_store_spec(store_port, redis.url, db))
                rounds: list[Round] = []
                produced = 0
                for brain in brains:
                    done, made = await run_brain(
                        brain, counts[brain], work, redis.url, store_port, processes
                    )
                    rounds += done
                    produced += made

                def settled() -> bool:
                    lag = scrape(store.spec.url).get("event_store_consumer_lag", 1)
                    return lag == 0 and stored(db)[0] >= produced

                with contextlib.suppress(AssertionError):  # unsettled: the figures say so
                    await asyncio.to_thread(wait_until, settled, timeout_s=30, what="settled")
                total, duplicates, which = stored(db)
            finally:
                processes.stop_all()
    resumed = [r for r in rounds if r.resumed]
    per_brain = {
        brain: {
            "rounds": len(rs),
            "resumed": sum(r.resumed for r in rs),
            "resume_p50_ms": ms([r.resume_ms for r in rs if r.resume_ms is not None]),
            "gap_audio_lost_ms": round(sum(r.gap_audio_lost_ms for r in rs)),
            "answered": sum(r.answered for r in rs),
        }
        for brain in brains
        if (rs := [r for r in rounds if r.brain == brain])
    }
    resume_times = [r.resume_ms for r in resumed if r.resume_ms is not None]
    return {
        "bench": "resume",
        "quick": args.quick,
        "rounds": len(rounds),
        "resumed_pct": round(100 * len(resumed) / len(rounds), 1),
        "resume_p50_ms": ms(resume_times),
        "resume_p90_ms": round(percentile(resume_times, 90)) if resume_times else None,
        "replay_first_audio_p50_ms": ms(
            [r.replay_first_audio_ms for r in resumed if r.replay_first_audio_ms is not None]
        ),
        "gap_audio_lost_ms": round(sum(r.gap_audio_lost_ms for r in rounds)),
        "duplicate_events": duplicates,
        "duplicates": which[:10],
        "events_produced": produced,
        "events_stored": total,
        "events_lost": produced - total,
        "answered_after_resume": sum(r.answered for r in rounds),
        "refusals": [r.refusal for r in rounds if not r.resumed],
        "per_brain": per_brain,
        "gaps_s": sorted({r.gap_s for r in rounds}),
        "targets": {
            "resumed_pct": 100,
            "resume_p50_ms_max": 300,
            "gap_audio_lost_ms": 0,
            "duplicate_events": 0,
            "events_lost": 0,
        },
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 Realtime rounds, 2 local")
    parser.add_argument("--brain", choices=("realtime", "local", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=None, help="Realtime rounds (full: 24)")
    parser.add_argument("--local-rounds", type=int, default=None, help="local rounds (full: 6)")
    args = parser.parse_args()
    args.rounds = args.rounds or (6 if args.quick else 24)
    args.local_rounds = args.local_rounds or (2 if args.quick else 6)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
