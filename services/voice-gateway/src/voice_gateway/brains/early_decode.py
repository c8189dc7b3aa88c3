"""Work on the end of a turn started at the first short pause, before the VAD calls it.

Why: Silero VAD declares the end of speech only after 0.2 s of silence, and it runs a little
behind the audio, so its stop comes about 0.3 s after the last word; only then do Whisper
(the transcript) and smart-turn (is the user done?) start, each from nothing, and the answer
waits for both. Most of that wait is already silence. After `EARLY_AFTER_S` of quiet frames the
audio heard so far is handed to them at once, in the background. When the VAD does stop and
nothing loud was heard since, the audio they would have been given is that same audio plus
silence, and the early result is the answer (ready, or nearly). A user who goes on speaking only
costs the CPU of a decode whose result is dropped.

`EarlyDecode` is the bookkeeping, for any decode: the Whisper and smart-turn adapters
(`adapters/pipecat_whisper.py`, `adapters/pipecat_shared_models.py`) say what to start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from voice_gateway.metrics import EARLY_DECODES
from voice_gateway.processors.levels import voiced

EARLY_AFTER_S = 0.1
RECOGNITION_RATE = 16_000  # Whisper and smart-turn read 16 kHz mono PCM16

T = TypeVar("T")


class EarlyDecode(Generic[T]):
    """Starts one decode per pause of `after_s` in the user's speech; `take` hands it over
    when only quiet audio followed it. `stage` names it in the metrics."""

    def __init__(
        self, stage: str, after_s: float = EARLY_AFTER_S, sample_rate: int = RECOGNITION_RATE
    ):
        self._stage = stage
        self._after_bytes = int(after_s * sample_rate) * 2
        self._quiet_bytes = 0
        self._pending: asyncio.Task[T] | None = None
        self._running: set[asyncio.Task[T]] = set()
        self.started = 0  # decodes started, and handed over: for the figures and the tests
        self.used = 0

    def hear(self, pcm: bytes, speaking: bool, start: Callable[[], Awaitable[T]]) -> None:
        """One frame of audio, while the VAD says whether the user is `speaking`; `start`
        begins the decode of everything heard up to and including this frame."""
        if not speaking:
            self._quiet_bytes = 0
            return
        if voiced(pcm):
            self._quiet_bytes = 0
            if self._pending is not None:  # the user went on: that decode is not the answer
                self._pending = None
                EARLY_DECODES.labels(self._stage, "dropped").inc()
            return
        self._quiet_bytes += len(pcm)
        if self._pending is None and self._quiet_bytes >= self._after_bytes:
            task = asyncio.ensure_future(start())
            self._running.add(task)
            task.add_done_callback(self._finished)
            self._pending = task
            self.started += 1
            EARLY_DECODES.labels(self._stage, "started").inc()

    @property
    def waiting(self) -> bool:
        """A decode started at this pause, and nothing loud since."""
        return self._pending is not None

    def waiting_on(self, task: asyncio.Future[Any] | None) -> bool:
        """`task` is that decode (not one the user went on after, nor one handed over)."""
        return task is not None and task is self._pending

    def take(self) -> asyncio.Task[T] | None:
        """The decode started at this pause, if nothing loud came after it; it is spent either
        way. The caller says with `settle` whether its result was the answer."""
        task, self._pending = self._pending, None
        self._quiet_bytes = 0
        return task

    def settle(self, used: bool) -> None:
        """Count a taken decode as the answer (`used`) or not (dropped: asked again)."""
        self.used += used
        EARLY_DECODES.labels(self._stage, "used" if used else "dropped").inc()

    def close(self) -> None:
        """The session is over: decodes still running have nobody to answer."""
        for task in list(self._running):
            task.cancel()

    def _finished(self, task: asyncio.Task[T]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # a dropped decode's failure is not the session's error
