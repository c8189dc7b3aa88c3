"""Both directions of a session on one timeline: samples since the recording started, on the
session's clock. Pure (times are given, nothing is awaited), so its rules are tested exactly.

The two directions arrive differently, so each has its own rule for where a chunk goes:

- The assistant's audio is written to the browser as it is played (Pipecat paces it): a chunk
  starts when it is written. An answer's first chunk goes exactly at that time; the next ones
  go at theirs, or right after the audio before them when that is later or close enough
  (`ASSISTANT_TOLERANCE_S`: the small unevenness of the pacing is not turned into gaps).
  Between answers nothing is written: silence up to now.
- The user's audio is captured by the browser before it is sent: a chunk ends when it
  arrives. But a resumed connection brings what the browser captured while it was away all at
  once, and those chunks ended long before they arrived. So the user's chunks are placed only
  after `SETTLE_S` more of the stream has been seen: each goes at the latest start that lets it
  and every chunk after it end no later than they arrived, or right after the audio before it
  when that is later or close enough (`USER_TOLERANCE_S`, network jitter). A stream that pauses
  (a muted microphone, a connection lost for good) is padded with silence when it resumes, or,
  while it stays away, up to `hold_s` behind now (longer than a session waits for a resume).

Each direction only ever moves forward: nothing is overwritten or dropped. The stereo output
(left: the user, right: the assistant) is everything both directions have placed."""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 24_000
SAMPLE_BYTES = 2  # PCM16 mono
FRAME_BYTES = 4  # PCM16 stereo
SETTLE_S = 1.0
USER_TOLERANCE_S = 0.1
ASSISTANT_TOLERANCE_S = 0.25
ASSISTANT_IDLE_S = 0.5  # nothing written for this long: the assistant is silent until now


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


class _Track:
    """One direction: its samples from `start` (the first not yet taken) to `cursor`."""

    def __init__(self) -> None:
        self.start = 0
        self.cursor = 0
        self.audio = bytearray()

    def place(self, position: int, pcm: bytes, tolerance: int) -> None:
        if position - self.cursor > tolerance:
            self.pad_to(position)
        self.audio += pcm
        self.cursor += len(pcm) // SAMPLE_BYTES

    def pad_to(self, position: int) -> None:
        if position > self.cursor:
            self.audio += bytes((position - self.cursor) * SAMPLE_BYTES)
            self.cursor = position

    def take(self, samples: int) -> np.ndarray:
        size = samples * SAMPLE_BYTES
        taken = np.frombuffer(bytes(self.audio[:size]), dtype="<i2")
        del self.audio[:size]
        self.start += samples
        return taken


class StereoAligner:
    def __init__(self, *, hold_s: float = 35.0) -> None:
        self._hold_s = hold_s
        self._user = _Track()
        self._assistant = _Track()
        self._pending: list[tuple[float, bytes]] = []  # user chunks not yet placed
        self._assistant_last = -math.inf

    def user(self, t: float, pcm: bytes) -> None:
        """A chunk of the user's audio (24 kHz PCM16 mono) that arrived at `t` seconds."""
        if len(pcm) >= SAMPLE_BYTES:
            self._pending.append((t, pcm[: len(pcm) // SAMPLE_BYTES * SAMPLE_BYTES]))

    def assistant(self, t: float, pcm: bytes) -> None:
        """A chunk of the assistant's audio written to the browser at `t` seconds."""
        if len(pcm) >= SAMPLE_BYTES:
            pcm = pcm[: len(pcm) // SAMPLE_BYTES * SAMPLE_BYTES]
            # The tolerance absorbs the pacing's unevenness within an answer; a new answer goes
            # where it was written.
            answering = t - self._assistant_last < ASSISTANT_IDLE_S
            tolerance = _samples(ASSISTANT_TOLERANCE_S) if answering else 0
            self._assistant.place(_samples(t), pcm, tolerance)
            self._assistant_last = t

    def take(self, now: float) -> tuple[int, bytes]:
        """What both directions have placed by `now`, as interleaved stereo PCM16, and its
        offset in frames from the start. Every call continues where the last one ended."""
        self._place_user(until=now - SETTLE_S)
        if not self._pending:  # the user's stream is away: it is silent, but a resume may fill
            self._user.pad_to(_samples(now - self._hold_s))  # what was captured meanwhile
        if now - self._assistant_last >= ASSISTANT_IDLE_S:
            self._assistant.pad_to(_samples(now))
        return self._emit(min(self._user.cursor, self._assistant.cursor))

    def finish(self, now: float) -> tuple[int, bytes]:
        """Everything, both directions padded with silence to the same end (at least `now`)."""
        self._place_user(until=math.inf)
        end = max(_samples(now), self._user.cursor, self._assistant.cursor)
        self._user.pad_to(end)
        self._assistant.pad_to(end)
        return self._emit(end)

    @property
    def frames(self) -> int:
        """Frames taken so far."""
        return self._user.start

    def _place_user(self, until: float) -> None:
        pending = self._pending
        if not pending or pending[0][0] > until:
            return
        # latest[i]: the latest start for chunk i such that it and every later chunk end no
        # later than they arrived (each chunk follows the one before it).
        latest = [0] * len(pending)
        bound = math.inf
        for i in range(len(pending) - 1, -1, -1):
            t, pcm = pending[i]
            bound = min(_samples(t), bound) - len(pcm) // SAMPLE_BYTES
            latest[i] = int(bound)
        settled = 0
        tolerance = _samples(USER_TOLERANCE_S)
        for (t, pcm), start in zip(pending, latest, strict=True):
            if t > until:
                break
            self._user.place(start, pcm, tolerance)
            settled += 1
        del pending[:settled]

    def _emit(self, end: int) -> tuple[int, bytes]:
        offset = self._user.start
        count = end - offset
        if count <= 0:
            return offset, b""
        stereo = np.empty((count, 2), dtype="<i2")
        stereo[:, 0] = self._user.take(count)
        stereo[:, 1] = self._assistant.take(count)
        return offset, stereo.tobytes()
