"""Noticing an upstream that hangs mid-conversation.

An upstream that is merely quiet is normal: the Realtime API says nothing while the user is
silent. But once it owes an answer (it committed the user's turn, or the gateway asked for a
response) it keeps sending events until `response.done`. `StallWatch` tracks that debt and the
time of the last upstream event; when the upstream owes an answer and has said nothing for the
timeout, it has stalled, and the session should end so the client can reconnect.
"""

import time
from typing import Any


class StallWatch:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._owed_since: float | None = None
        self._last_event = time.monotonic()

    def saw_event(self) -> None:
        self._last_event = time.monotonic()

    def answer_owed(self) -> None:
        if self._owed_since is None:
            self._owed_since = time.monotonic()

    def answered(self) -> None:
        self._owed_since = None

    def stalled_for(self) -> float | None:
        """Seconds of silence while an answer is owed, once past the timeout; else None."""
        if self._owed_since is None:
            return None
        quiet = time.monotonic() - max(self._last_event, self._owed_since)
        return quiet if quiet >= self.timeout_s else None


class StampedSocket:
    """The upstream WebSocket, noting the time of every message it delivers; everything else
    passes through to the real connection."""

    def __init__(self, socket: Any, watch: StallWatch) -> None:
        self._socket = socket
        self._watch = watch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)

    def __aiter__(self) -> "StampedSocket":
        self._messages = aiter(self._socket)
        return self

    async def __anext__(self) -> Any:
        message = await anext(self._messages)
        self._watch.saw_event()
        return message
