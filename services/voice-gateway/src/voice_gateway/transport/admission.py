"""Who may open a session, and how fast a session may send: limits per client address.

In-process counters: each replica enforces its own share (put the limits behind nginx's per-IP
limits too when running several replicas).
"""

import time
from collections import defaultdict, deque
from dataclasses import dataclass

from contracts.session import CloseCode, RefusalKind


class Refused(Exception):
    """A connection the gateway will not take; `reason` is shown to the client."""

    def __init__(
        self, reason: str, *, kind: RefusalKind, code: CloseCode = CloseCode.TRY_AGAIN_LATER
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        # A fixed name for metrics and alerts (`reason` is prose for the person).
        self.kind = kind
        self.code = code


@dataclass(frozen=True)
class Limits:
    max_sessions: int
    max_sessions_per_address: int
    connections_per_minute_per_address: int


class Admission:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._active: defaultdict[str, int] = defaultdict(int)
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)

    @property
    def active(self) -> int:
        return sum(self._active.values())

    def admit(self, address: str) -> None:
        """Count a new connection and a new session for `address`, or raise `Refused`."""
        self.attempt(address)
        self.open_session(address)

    def attempt(self, address: str) -> None:
        """Count a new connection from `address` (refused ones too: token guesses are paced by
        the same limit), or raise `Refused`."""
        now = time.monotonic()
        recent = self._recent[address]
        while recent and now - recent[0] > 60:
            recent.popleft()
        if len(recent) >= self._limits.connections_per_minute_per_address:
            raise Refused(
                "too many new connections from your address; wait a minute",
                kind=RefusalKind.ADDRESS_RATE,
                code=CloseCode.POLICY,
            )
        recent.append(now)

    def open_session(self, address: str) -> None:
        """Count a new session for `address`, or raise `Refused`."""
        if self.active >= self._limits.max_sessions:
            raise Refused(
                "the gateway is at its session limit; try again later", kind=RefusalKind.CAPACITY
            )
        if self._active[address] >= self._limits.max_sessions_per_address:
            raise Refused(
                "too many open sessions from your address",
                kind=RefusalKind.ADDRESS_SESSIONS,
                code=CloseCode.POLICY,
            )
        self._active[address] += 1

    def release(self, address: str) -> None:
        self._active[address] -= 1
        if self._active[address] <= 0:
            del self._active[address]


class FrameRateLimiter:
    """A token bucket over incoming frames: `rate` per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        # A grant may hold the bucket over its burst; refilling never does.
        self._tokens = max(
            self._tokens, min(self._burst, self._tokens + (now - self._last) * self._rate)
        )
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def grant(self, frames: float) -> None:
        """Let `frames` more through at once, over the burst: a resumed client sends what it
        captured while away as fast as it can."""
        self._tokens += frames
