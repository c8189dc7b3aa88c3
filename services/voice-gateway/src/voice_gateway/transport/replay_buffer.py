"""The frames a session sent lately, kept so that a client that resumes gets what it missed.

Frames are numbered from 1 in the order sent. The buffer keeps the newest ones up to a size in
bytes (always at least the last frame); a client that missed more than that learns how many
frames were skipped, and gets the rest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

Frame = bytes | str


@dataclass(frozen=True, slots=True)
class Missed:
    frames: list[Frame]  # to send again, in order
    skipped: int  # frames the client missed that are no longer kept


class ReplayBuffer:
    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._frames: deque[tuple[int, Frame]] = deque()  # (sequence number, frame)
        self._size = 0

    def keep(self, seq: int, frame: Frame) -> None:
        self._frames.append((seq, frame))
        self._size += len(frame)
        while self._size > self._max_bytes and len(self._frames) > 1:
            _, dropped = self._frames.popleft()
            self._size -= len(dropped)

    def after(self, received: int, sent: int) -> Missed:
        """What a client that received the first `received` of `sent` frames missed."""
        oldest = self._frames[0][0] if self._frames else sent + 1
        return Missed(
            frames=[frame for seq, frame in self._frames if seq > received],
            skipped=max(0, oldest - 1 - received),
        )

    def clear(self) -> None:
        self._frames.clear()
        self._size = 0
