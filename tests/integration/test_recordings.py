"""A recorded session, end to end: a browser socket with `record=1` says something and hears
the answer; the gateway (Realtime brain: the fake server) sends both directions to the
event-store, which keeps a FLAC whose two channels line up with what was said and heard, on
the clock of the conversation's events; deleting the conversation deletes it.

Real processes: Redis, the event-store, the gateway. The test client streams its microphone
in real time (silence, then espeak speech, then silence) and notes when it sent and received
each piece of audio: the same host's wall clock as the events' timestamps."""

import asyncio
import contextlib
import io
import json
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf
from websockets.asyncio.client import ClientConnection, connect

from harness.services import StartEventStore, StartGateway, ws_url
from harness.speech import SAMPLE_RATE, frames, rms, silence, speech_pcm
from harness.waiting import async_wait_until

SPOKEN = "Please write down the shopping list for tomorrow."
CID = "conv-recorded"
FRAME_S = 0.02
VOICED_RMS = 300.0  # the fake Realtime server's energy VAD threshold (fakes/realtime/audio.py)
BASE = "/api/realtime/conversations"


@dataclass
class Microphone:
    """20 ms frames in real time, silence unless something is queued (as a browser's mic)."""

    ws: ClientConnection
    queued: deque[bytes] = field(default_factory=deque)
    voiced_sent: list[float] = field(default_factory=list)  # wall times of voiced frames sent

    def say(self, pcm: bytes) -> None:
        self.queued.extend(frames(pcm))

    async def run(self) -> None:
        quiet = silence(20)
        start = time.monotonic()
        sent = 0
        while True:
            frame = self.queued.popleft() if self.queued else quiet
            if rms(frame) >= VOICED_RMS:
                self.voiced_sent.append(time.time())
            await self.ws.send(frame)
            sent += 1
            await asyncio.sleep(max(0.0, start + sent * FRAME_S - time.monotonic()))


@dataclass
class Heard:
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio_at: list[float] = field(default_factory=list)  # wall time each audio frame came

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]

    def turns_heard(self) -> int:
        """Answers heard to the end (speaking went true, then false)."""
        return sum(1 for m in self.of("speaking") if not m["speaking"])

    async def run(self, ws: ClientConnection) -> None:
        async for frame in ws:
            if isinstance(frame, bytes):
                self.audio_at.append(time.time())
            else:
                self.messages.append(json.loads(frame))


def _voiced_windows(channel: np.ndarray) -> np.ndarray:
    """Start times (s from the recording's start) of its 20 ms windows loud enough to be voice."""
    size = int(FRAME_S * SAMPLE_RATE)
    count = len(channel) // size
    windows = channel[: count * size].astype(np.float64).reshape(count, size)
    levels = np.sqrt((windows**2).mean(axis=1))
    return np.flatnonzero(levels >= VOICED_RMS) * FRAME_S


def _at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


async def test_a_recorded_session_keeps_both_directions_aligned_with_its_events(
    start_event_store: StartEventStore, start_gateway: StartGateway, tmp_path: Path
) -> None:
    store = start_event_store()  # its database: tmp_path / "events.db"
    gateway = start_gateway("reply", GATEWAY_EVENT_STORE_URL=store.spec.url)
    speech = silence(300) + speech_pcm(SPOKEN) + silence(300)
    heard = Heard()
    async with connect(ws_url(gateway, f"/api/realtime/pipecat/ws/{CID}?record=1")) as ws:
        receiver = asyncio.create_task(heard.run(ws))
        mic = Microphone(ws)
        microphone = asyncio.create_task(mic.run())

        async def answers(count: int) -> bool:
            if receiver.done():
                receiver.result()
                raise AssertionError("the gateway closed the socket")
            return heard.turns_heard() >= count

        await async_wait_until(lambda: answers(1), timeout_s=30, what="the greeting, heard")
        await asyncio.sleep(0.5)
        mic.say(speech)
        await async_wait_until(lambda: answers(2), timeout_s=30, what="the answer, heard")
        await asyncio.sleep(0.5)
        microphone.cancel()
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(receiver, 15)
    with contextlib.suppress(asyncio.CancelledError):
        await microphone

    async with httpx.AsyncClient(base_url=store.spec.url, timeout=10) as http:

        async def finished() -> dict[str, Any] | None:
            listed = (await http.get(f"{BASE}/{CID}/recordings")).json()
            stopped = (await http.get(f"{BASE}/{CID}/events?type=session_stopped")).json()
            if listed and listed[0]["state"] == "finished" and stopped:
                return dict(listed[0])
            return None

        recording = await async_wait_until(finished, timeout_s=30, what="a finished recording")
        events = (await http.get(f"{BASE}/{CID}/events")).json()
        audio = await http.get(f"{BASE}/{CID}/recordings/{recording['id']}")
        assert audio.status_code == 200
        assert audio.headers["content-type"] == "audio/flac"
        flac_file = tmp_path / "recordings" / CID / f"{recording['id']}.flac"
        assert flac_file.stat().st_size == recording["bytes"] == len(audio.content)

        # --- what the history knows about the recording ---------------------------------------
        by_type: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            by_type.setdefault(event["type"], []).append(event)
        [started_event] = by_type["recording_started"]
        [stopped_event] = by_type["recording_stopped"]
        assert started_event["payload"]["recording_id"] == recording["id"]
        assert _at(started_event["payload"]["started_at"]) == _at(recording["started_at"])
        assert stopped_event["payload"]["finished"] is True
        assert stopped_event["payload"]["dropped_chunks"] == 0

        # --- the file: stereo 24 kHz, as long as the session it recorded ---------------------
        samples, rate = sf.read(io.BytesIO(audio.content), dtype="int16")
        assert rate == SAMPLE_RATE
        assert samples.shape[1] == 2
        duration = len(samples) / SAMPLE_RATE
        assert abs(duration - recording["duration_s"]) < 1 / SAMPLE_RATE
        assert abs(duration - stopped_event["payload"]["duration_s"]) <= 2 * FRAME_S
        begin = _at(recording["started_at"])
        # Its wall-clock span, as the gateway measured it when the recording ended.
        ended = _at(stopped_event["payload"]["ended_at"])
        assert abs(duration - (ended - begin)) <= 2 * FRAME_S
        # The session around it: the recording starts as the session starts and runs to its
        # end (the session's own duration also counts finishing the recording).
        [session_started] = by_type["session_started"]
        [session_stopped] = by_type["session_stopped"]
        assert 0 <= begin - _at(session_started["timestamp"]) < 1.0
        assert ended <= _at(session_stopped["timestamp"])
        assert session_stopped["payload"]["duration_s"] - 1.0 < duration
        assert duration <= session_stopped["payload"]["duration_s"] + 0.05

        # --- left, the user: the speech where it was said, before its transcript ---------------
        left, right = samples[:, 0], samples[:, 1]
        user_voiced = _voiced_windows(left)
        assert user_voiced.size > 0, "the user's speech is in the left channel"
        said_from, said_to = mic.voiced_sent[0] - begin, mic.voiced_sent[-1] - begin
        assert abs(user_voiced[0] - said_from) <= 0.1
        assert abs(user_voiced[-1] - said_to) <= 0.1
        [user_transcript] = [e for e in by_type["transcript"] if e["payload"]["role"] == "user"]
        transcribed = _at(user_transcript["timestamp"]) - begin
        assert user_voiced[-1] < transcribed < user_voiced[-1] + 3.0
        # --- right, the assistant: the greeting and the answer, when they were heard ----------
        assistant_voiced = _voiced_windows(right)
        heard_at = np.array(heard.audio_at) - begin
        assert assistant_voiced.size > 0, "the assistant's audio is in the right channel"
        assert abs(assistant_voiced[0] - heard_at[0]) <= 0.15  # the greeting
        answer_heard = heard_at[heard_at > said_to][0]
        answer_recorded = assistant_voiced[assistant_voiced > said_to][0]
        assert abs(answer_recorded - answer_heard) <= 0.15
        assert answer_recorded < _at(by_type["transcript"][-1]["timestamp"]) - begin
        # Each side only in its own channel: no assistant while the user spoke, and back.
        assert not np.any((assistant_voiced >= said_from) & (assistant_voiced <= said_to))
        greeting_to = assistant_voiced[assistant_voiced < said_from][-1]
        assert not np.any((user_voiced > greeting_to - 1.0) & (user_voiced < greeting_to))
        assert math.isclose(len(left), len(right))

        # --- deleted with the conversation ---------------------------------------------------
        assert (await http.delete(f"{BASE}/{CID}")).status_code == 204
        assert not flac_file.exists()
        assert not flac_file.parent.exists()
        assert (await http.get(f"{BASE}/{CID}/recordings")).status_code == 404
        gone = await http.get(f"{BASE}/{CID}/recordings/{recording['id']}")
        assert gone.status_code == 404
