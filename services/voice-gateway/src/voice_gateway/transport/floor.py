"""Who may speak to the assistant when several devices share one session: first to speak.

Every speaking device streams its microphone all the time (silence included); the pipeline must
hear one stream. The floor is free until a device sends voiced audio: that device takes it, and
only its audio goes to the pipeline until it has been quiet for `release_s`. While the floor is
free, the session's own device (the one that opened it) carries the stream, so the pipeline's
voice detection hears continuous silence rather than nothing. Audio of other devices meanwhile
is dropped, and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from voice_gateway.processors.levels import voiced

RELEASE_S = 1.2  # a pause this long ends a speaker's hold: about the end of a turn


class Floor:
    def __init__(
        self,
        *,
        owner: str,
        release_s: float = RELEASE_S,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str | None], None] | None = None,
    ) -> None:
        self.owner = owner  # the device that carries the stream while the floor is free
        self._release_s = release_s
        self._clock = clock
        self._on_change = on_change
        self.holder: str | None = None
        self.last_speaker: str | None = None  # the device heard last (transcripts name it)
        self._last_voiced = 0.0
        self.dropped = 0  # frames of devices that did not hold the floor

    def admit(self, device: str, pcm: bytes) -> bool:
        """Whether this frame of `device`'s microphone goes to the pipeline."""
        now = self._clock()
        is_voiced = voiced(pcm)
        if self.holder is not None and now - self._last_voiced > self._release_s:
            self._set(None)
        if self.holder is None and is_voiced:
            self._set(device)
        if self.holder == device:
            if is_voiced:
                self._last_voiced = now
            return True
        if self.holder is None and device == self.owner:
            return True
        self.dropped += 1
        return False

    def leave(self, device: str) -> None:
        """A device left: the floor is free if it held it."""
        if self.holder == device:
            self._set(None)

    def _set(self, device: str | None) -> None:
        self.holder = device
        if device is not None:
            self.last_speaker = device
        if self._on_change is not None:
            self._on_change(device)
