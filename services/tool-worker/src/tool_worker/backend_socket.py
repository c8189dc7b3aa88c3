"""One socket to the agentic backend, and the reader that turns its messages into events."""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import structlog
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from contracts import ConversationEvent, ToolErrorKind
from contracts.events import EventType
from contracts.progress import ProgressKind, RunProgress
from service_kit.outbox import EventOutbox
from tool_worker import metrics
from tool_worker.backend_messages import (
    Backend,
    BackendMessage,
    MalformedMessage,
    Outcome,
    describe,
    event_payload,
    failure_detail,
    parse,
    run_outcome,
    summarize,
    with_progress,
)
from tool_worker.errors import BackendUnavailable, seconds

log = structlog.get_logger(__name__)

Confirms = Callable[[BackendMessage], bool]  # does this message acknowledge what we sent?


class BackendSocket:
    """A conversation's connection to the team or to Claude Code.

    Team memory lives as long as this socket. Every message received becomes an event; the end of
    a run (or the socket closing mid-run) becomes a `run_finished` event with a spoken summary.
    """

    def __init__(
        self,
        backend: Backend,
        url: str,
        conversation_id: str,
        outbox: EventOutbox,
        max_size: int,
        quiet_timeout_s: float | None = None,
    ) -> None:
        self.backend = backend
        self.url = url
        self.conversation_id = conversation_id
        self._outbox = outbox
        self._max_size = max_size
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.running = False
        self._closing = False
        self._cancel_requested = False
        self._waiters: list[tuple[Confirms, asyncio.Future[BackendMessage]]] = []
        # A run that goes silent for good would hold this socket, and keep the user waiting
        # for news, for ever: after `quiet_timeout_s` without a message mid-run, give it up.
        self._quiet_timeout_s = quiet_timeout_s
        self._last_heard = time.monotonic()
        self._quiet_watch: asyncio.Task[None] | None = None
        self._went_quiet = False

    @property
    def open(self) -> bool:
        return self._ws is not None and self._reader is not None and not self._reader.done()

    async def connect(self, timeout_s: float, greeting: Confirms | None = None) -> None:
        """Open the socket (and wait for the server's greeting, where it sends one)."""
        greeted = self._expect(greeting) if greeting else None
        try:
            await self._connect(timeout_s)
            if greeted is not None:
                await self._confirmed(greeted, timeout_s)
        finally:
            if greeted is not None:
                self._forget(greeted)

    async def request(
        self, message: dict[str, Any], confirms: Confirms, timeout_s: float
    ) -> BackendMessage:
        """Send a message and wait for the server's acknowledgement of it."""
        waiter = self._expect(confirms)
        try:
            await self.send(message)
            return await self._confirmed(waiter, timeout_s)
        finally:
            self._forget(waiter)

    def _expect(self, confirms: Confirms) -> tuple[Confirms, asyncio.Future[BackendMessage]]:
        waiter = (confirms, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        return waiter

    def _forget(self, waiter: tuple[Confirms, asyncio.Future[BackendMessage]]) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    async def _confirmed(
        self, waiter: tuple[Confirms, asyncio.Future[BackendMessage]], timeout_s: float
    ) -> BackendMessage:
        try:
            return await asyncio.wait_for(asyncio.shield(waiter[1]), timeout_s)
        except TimeoutError as exc:
            raise self._unavailable(
                ToolErrorKind.NO_ANSWER, f"{self.url} did not respond within {seconds(timeout_s)}"
            ) from exc

    async def _connect(self, timeout_s: float) -> None:
        try:
            self._ws = await websockets.connect(
                self.url, open_timeout=timeout_s, close_timeout=1, max_size=self._max_size
            )
        except TimeoutError as exc:
            detail = f"{self.url} did not accept a connection within {seconds(timeout_s)}"
            raise self._failed(ToolErrorKind.UNREACHABLE, detail) from exc
        except InvalidStatus as exc:
            detail = f"{self.url} refused the connection (HTTP {exc.response.status_code})"
            raise self._failed(ToolErrorKind.REFUSED, detail) from exc
        except (InvalidHandshake, InvalidURI) as exc:
            detail = f"{self.url} refused the connection ({exc})"
            raise self._failed(ToolErrorKind.REFUSED, detail) from exc
        except OSError as exc:
            detail = f"{self.url} is not reachable ({exc})"
            raise self._failed(ToolErrorKind.UNREACHABLE, detail) from exc
        metrics.BACKEND_CONNECTIONS.labels(self.backend).inc()
        self._reader = asyncio.create_task(self._read(), name=f"read-{self.backend}")
        if self._quiet_timeout_s is not None:
            self._quiet_watch = asyncio.create_task(
                self._watch_quiet(self._quiet_timeout_s), name=f"quiet-{self.backend}"
            )
        log.info("backend_connected", backend=self.backend, conversation_id=self.conversation_id)

    def _failed(self, kind: ToolErrorKind, detail: str) -> BackendUnavailable:
        metrics.BACKEND_CONNECT_FAILURES.labels(self.backend, kind).inc()
        return self._unavailable(kind, detail)

    def _unavailable(self, kind: ToolErrorKind, detail: str) -> BackendUnavailable:
        return BackendUnavailable(self.backend.whom, kind, detail)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message (never anything else: a non-JSON frame breaks the server)."""
        if self._ws is None or not self.open:
            raise self._unavailable(
                ToolErrorKind.DISCONNECTED, f"the connection to {self.url} is closed"
            )
        try:
            await self._ws.send(json.dumps(message))
        except ConnectionClosed as exc:
            raise self._unavailable(
                ToolErrorKind.DISCONNECTED, f"{self.url} closed the connection ({exc})"
            ) from exc

    def cancel_requested(self) -> None:
        self._cancel_requested = True

    def start_run(self) -> None:
        self._cancel_requested = False
        self._last_heard = time.monotonic()
        if not self.running:
            self.running = True
            metrics.RUNS_IN_PROGRESS.labels(self.backend).inc()

    async def _watch_quiet(self, timeout_s: float) -> None:
        while self.open:
            await asyncio.sleep(min(timeout_s / 4, 5.0))
            if self.running and time.monotonic() - self._last_heard >= timeout_s:
                self._went_quiet = True
                metrics.BACKEND_QUIET.labels(self.backend).inc()
                log.warning(
                    "backend_quiet",
                    backend=self.backend,
                    conversation_id=self.conversation_id,
                    quiet_s=timeout_s,
                )
                if self._ws is not None:
                    await self._ws.close(1001, "no message during the run")
                return

    async def close(self) -> None:
        self._closing = True
        if self._quiet_watch is not None:
            self._quiet_watch.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                try:
                    await self._on_frame(frame)
                except Exception:  # one unreadable message must not end the reader (and run)
                    metrics.BACKEND_MALFORMED.labels(self.backend).inc()
                    log.exception("backend_message_failed", backend=self.backend)
        except ConnectionClosed:
            pass
        finally:
            metrics.BACKEND_CONNECTIONS.labels(self.backend).dec()
            code = self._ws.close_code
            closed = self._unavailable(
                ToolErrorKind.DISCONNECTED, f"{self.url} closed the connection (code {code})"
            )
            for _, future in self._waiters:
                if not future.done():
                    future.set_exception(closed)
            log.info(
                "backend_closed",
                backend=self.backend,
                conversation_id=self.conversation_id,
                code=code,
                by_us=self._closing,
            )
            if self.running:
                await self._finish_run(None, Outcome.DISCONNECTED)
            if self._went_quiet:
                self._emit_error(
                    f"The {self.backend.spoken_name} backend sent nothing for "
                    f"{seconds(self._quiet_timeout_s or 0)} during a run; the connection "
                    "was closed.",
                    kind="quiet",
                )
            elif not self._closing:
                self._emit_error(
                    f"The {self.backend.spoken_name} backend closed the connection.",
                    kind="disconnected",
                    close_code=code,
                )

    async def _on_frame(self, frame: str | bytes) -> None:
        self._last_heard = time.monotonic()
        metrics.BACKEND_MESSAGES.labels(self.backend).inc()
        try:
            message = parse(frame)
        except MalformedMessage as exc:
            metrics.BACKEND_MALFORMED.labels(self.backend).inc()
            log.warning("backend_message_malformed", backend=self.backend, reason=str(exc))
            self._emit_error(str(exc), kind="malformed")
            return
        self._emit(message.type, event_payload(message), describe(self.backend, message))
        for confirms, future in self._waiters:
            if not future.done() and confirms(message):
                future.set_result(message)
        outcome = run_outcome(message)
        if outcome is not None and self.running:
            await self._finish_run(message, outcome)

    async def _finish_run(self, message: BackendMessage | None, outcome: Outcome) -> None:
        if outcome is Outcome.ERROR and self._cancel_requested:
            outcome = Outcome.INTERRUPTED  # Claude Code reports a cancelled task as an error
        self.running = False
        metrics.RUNS_IN_PROGRESS.labels(self.backend).dec()
        payload = {
            "summary": summarize(self.backend, message, outcome),
            "outcome": outcome,
            "backend": self.backend,
        }
        if outcome is Outcome.ERROR:
            payload["detail"] = failure_detail(message)
        result = RunProgress.of(
            self.backend.event_source, ProgressKind.RESULT, "", payload["summary"]
        )
        self._emit(EventType.RUN_FINISHED, payload, result)

    def _emit_error(self, message: str, **details: Any) -> None:
        """An error of the tool-worker's own (not a message from the backend)."""
        step = RunProgress.of(self.backend.event_source, ProgressKind.ERROR, "", message)
        self._emit(EventType.ERROR, {"message": message, **details}, step)

    def _emit(
        self, type_: str, payload: dict[str, Any], progress: RunProgress | None = None
    ) -> None:
        self._outbox.publish(
            ConversationEvent(
                conversation_id=self.conversation_id,
                source=self.backend.event_source,
                type=type_,
                payload=with_progress(payload, progress),
            )
        )
