"""What the fake Realtime server saw and sent, per connection, readable from any thread.

The server's event loop writes under one lock; readers get copies. `Recorder.wait_for` (from a
thread) and `Recorder.async_wait_for` (from any event loop, including the server's) wake on
every change instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

APPEND = "input_audio_buffer.append"
AUDIO_DELTA = "response.output_audio.delta"


@dataclass(frozen=True)
class AudioDeltaSent:
    """One `response.output_audio.delta` as sent. `sent_at` is `time.monotonic()` just before the
    send: CLOCK_MONOTONIC on Linux, so comparable with the same clock in other processes."""

    connection: int
    response_id: str
    item_id: str
    seq: int  # per connection, from 0
    offset: int  # bytes of this item's audio sent before this delta
    nbytes: int
    sent_at: float


@dataclass
class UserTurn:
    item_id: str
    audio_start_ms: int
    audio_end_ms: int | None = None
    transcript: str | None = None  # as reported to the client; None without transcription
    started_at: float = field(default_factory=time.monotonic)  # speech_started sent
    stopped_at: float | None = None  # speech_stopped sent


@dataclass
class ResponseRecord:
    id: str
    trigger: str  # "turn", "tool_output", "request" or "greeting"
    action: str  # "speak", "call_tool" or "fail"
    # then "completed", "cancelled", "failed", or "aborted" (connection closed mid-response)
    status: str = "in_progress"
    item_id: str | None = None
    text: str = ""  # the planned transcript (speak)
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    audio_bytes: int = 0
    created_at: float = field(default_factory=time.monotonic)
    done_at: float | None = None


class Recorder:
    """The lock, and the wake-ups for waiters, shared by a server and its connections."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._cond = threading.Condition(self.lock)
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def changed(self) -> None:
        with self.lock:
            self._cond.notify_all()
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def wait_for(self, predicate: Callable[[], T], timeout_s: float, what: str) -> T:
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
                self._cond.wait(remaining)

    async def async_wait_for(self, predicate: Callable[[], T], timeout_s: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        waiter = (loop, asyncio.Event())
        deadline = loop.time() + timeout_s
        with self.lock:
            self._async_waiters.add(waiter)
        try:
            while True:
                waiter[1].clear()
                with self.lock:
                    value = predicate()
                if value:
                    return value
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter[1].wait(), remaining)
        finally:
            with self.lock:
                self._async_waiters.discard(waiter)


def _collapse(events: list[dict[str, Any]], kind: str, nbytes: int, **extra: Any) -> None:
    last = events[-1] if events else None
    if (
        last is not None
        and last["type"] == kind
        and all(last.get(k) == v for k, v in extra.items())
    ):
        last["count"] += 1
        last["bytes"] += nbytes
    else:
        events.append({"type": kind, "count": 1, "bytes": nbytes, **extra})


class ConnectionRecord:
    """One accepted WebSocket connection. Accessors are thread-safe and return copies."""

    def __init__(
        self,
        recorder: Recorder,
        index: int,
        scenario: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        api_key: str,
    ) -> None:
        self._recorder = recorder
        self._lock = recorder.lock
        self.index = index
        self.scenario = scenario
        self.path = path
        self.query = query
        self.model = query.get("model")
        self.headers = headers  # Authorization redacted
        self._api_key = api_key
        self._client_events: list[dict[str, Any]] = []
        self._server_events: list[dict[str, Any]] = []
        self._session: dict[str, Any] = {}
        self._session_updates: list[dict[str, Any]] = []
        self._audio_deltas: list[AudioDeltaSent] = []
        self._user_turns: list[UserTurn] = []
        self._responses: list[ResponseRecord] = []
        self._notes: list[str] = []
        self.audio_in_bytes = 0
        self.closed = False
        self.close_code: int | None = None

    def __repr__(self) -> str:  # never shows the API key
        return f"<ConnectionRecord #{self.index} {self.scenario} model={self.model}>"

    @property
    def api_key(self) -> str:
        """The bearer token the client sent (kept out of repr and headers)."""
        return self._api_key

    # -- written by the server (its event loop) ---------------------------------------------

    def _write(self, fn: Callable[[], None]) -> None:
        with self._lock:
            fn()
        self._recorder.changed()

    def add_client_event(self, event: dict[str, Any], audio_bytes: int = 0) -> None:
        def write() -> None:
            if event.get("type") == APPEND:
                self.audio_in_bytes += audio_bytes
                _collapse(self._client_events, APPEND, audio_bytes)
            else:
                self._client_events.append(event)
                if event.get("type") == "session.update":
                    self._session_updates.append(copy.deepcopy(event.get("session", {})))

        self._write(write)

    def add_server_event(self, event: dict[str, Any]) -> None:
        def write() -> None:
            if event["type"] == AUDIO_DELTA:
                nbytes = len(event["delta"]) * 3 // 4
                _collapse(self._server_events, AUDIO_DELTA, nbytes, item_id=event["item_id"])
            else:
                self._server_events.append(event)

        self._write(write)

    def add_audio_delta(self, delta: AudioDeltaSent) -> None:
        self._write(lambda: self._audio_deltas.append(delta))

    def set_session(self, session: dict[str, Any]) -> None:
        self._write(lambda: setattr(self, "_session", copy.deepcopy(session)))

    def add_user_turn(self, turn: UserTurn) -> None:
        self._write(lambda: self._user_turns.append(turn))

    def add_response(self, response: ResponseRecord) -> None:
        self._write(lambda: self._responses.append(response))

    def update(self, obj: UserTurn | ResponseRecord, **changes: Any) -> None:
        def write() -> None:
            for key, value in changes.items():
                setattr(obj, key, value)

        self._write(write)

    def add_note(self, note: str) -> None:
        self._write(lambda: self._notes.append(note))

    def set_closed(self, code: int | None) -> None:
        def write() -> None:
            self.closed = True
            self.close_code = code

        self._write(write)

    # -- read by tests and benchmarks -------------------------------------------------------

    def client_events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Client events in order; runs of `input_audio_buffer.append` are collapsed into one
        `{"type": ..., "count": n, "bytes": b}` entry."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._client_events if type_ in (None, e["type"])]

    def client_event_types(self) -> list[str]:
        with self._lock:
            return [e["type"] for e in self._client_events]

    def server_events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Server events in order; runs of audio deltas for one item are collapsed."""
        with self._lock:
            return [copy.deepcopy(e) for e in self._server_events if type_ in (None, e["type"])]

    def server_event_types(self) -> list[str]:
        with self._lock:
            return [e["type"] for e in self._server_events]

    def session(self) -> dict[str, Any]:
        """The session as merged from every accepted session.update (what the model uses)."""
        with self._lock:
            return copy.deepcopy(self._session)

    def session_updates(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._session_updates)

    def audio_deltas(self) -> list[AudioDeltaSent]:
        with self._lock:
            return list(self._audio_deltas)

    def user_turns(self) -> list[UserTurn]:
        with self._lock:
            return [dataclasses.replace(t) for t in self._user_turns]

    def responses(self) -> list[ResponseRecord]:
        with self._lock:
            return [dataclasses.replace(r) for r in self._responses]

    def truncates(self) -> list[dict[str, Any]]:
        return self.client_events("conversation.item.truncate")

    def function_outputs(self) -> list[dict[str, Any]]:
        """The `function_call_output` items the client created, in order."""
        with self._lock:
            return [
                copy.deepcopy(e["item"])
                for e in self._client_events
                if e["type"] == "conversation.item.create"
                and isinstance(e.get("item"), dict)
                and e["item"].get("type") == "function_call_output"
            ]

    def notes(self) -> list[str]:
        """Things a real model or server would have handled differently (e.g. a scripted tool
        call to a tool the session does not declare)."""
        with self._lock:
            return list(self._notes)


@dataclass(frozen=True)
class Rejection:
    """An upgrade refused with an HTTP error (unknown scenario, missing key, `Reject`)."""

    path: str
    status: int
    headers: dict[str, str]
