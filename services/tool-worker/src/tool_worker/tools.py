"""The five voice tools.

Each answers at once: handing work over is quick, the work itself streams back as events.
Every failure is an answer in plain words, never an exception or a hang.
"""

import logging
import time
from typing import Any

import structlog

from contracts import ConversationEvent, ToolErrorKind, ToolJob, ToolName, ToolResult
from contracts.events import EventType
from service_kit.outbox import EventOutbox
from tool_worker import metrics
from tool_worker.backend_messages import (
    CLAUDE_MESSAGE_ACK,
    NO_ACTIVE_RUN,
    QUEUED,
    TEAM_CANCEL_ACK,
    TEAM_MESSAGE_ACK,
    TEAM_RUN_ACK,
    Backend,
    BackendMessage,
)
from tool_worker.backend_socket import BackendSocket
from tool_worker.errors import BackendUnavailable
from tool_worker.sockets import SocketPool

log = structlog.get_logger(__name__)

MAX_TEXT_CHARS = 8000


class ToolRunner:
    def __init__(self, pool: SocketPool, outbox: EventOutbox, connect_timeout_s: float) -> None:
        self._pool = pool
        self._outbox = outbox
        self._connect_timeout_s = connect_timeout_s

    async def run(self, job: ToolJob, *, deadline: float) -> ToolResult:
        """Run `job`; `deadline` is a monotonic time by which the answer must be given."""
        started = time.perf_counter()
        try:
            async with self._pool.lock(job.conversation_id):
                message, data = await self._dispatch(job, deadline)
            result = _result(job, ok=True, message=message, data=data)
        except BackendUnavailable as exc:
            result = ToolResult.failure(job, exc.kind, exc.spoken, exc.detail)
            self._outbox.publish(failure_event(job, result))
        except ValueError as exc:  # the spoken reason is the model's to fix ("I need some text")
            result = ToolResult.failure(job, ToolErrorKind.BAD_ARGUMENTS, str(exc), str(exc))
        outcome = "ok" if result.ok else (result.error_kind or "error")
        metrics.TOOL_CALLS.labels(job.name, outcome).inc()
        metrics.TOOL_CALL_SECONDS.labels(job.name).observe(time.perf_counter() - started)
        log.log(
            logging.INFO if result.ok else logging.WARNING,
            "tool_call",
            conversation_id=job.conversation_id,
            call_id=job.call_id,
            tool=job.name,
            outcome=outcome,
            detail=result.detail,
        )
        return result

    async def _dispatch(self, job: ToolJob, deadline: float) -> tuple[str, dict[str, Any]]:
        cid = job.conversation_id
        match job.name:
            case ToolName.SEND_TO_NESTED:
                return await self._send(cid, Backend.TEAM, _text(job), deadline)
            case ToolName.SEND_TO_CLAUDE_CODE:
                return await self._send(cid, Backend.CLAUDE, _text(job), deadline)
            case ToolName.PAUSE:
                return await self._cancel(cid, Backend.TEAM, deadline)
            case ToolName.PAUSE_CLAUDE_CODE:
                return await self._cancel(cid, Backend.CLAUDE, deadline)
            case ToolName.RESET:
                return await self._reset(cid, deadline)
        raise ValueError(f"Unknown tool {job.name!r}.")

    def _timeout(self, deadline: float, backend: Backend) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            detail = "the call's deadline passed before the backend could be reached"
            raise BackendUnavailable(backend.whom, ToolErrorKind.TIMEOUT, detail)
        return min(self._connect_timeout_s, remaining)

    async def _send(
        self, cid: str, backend: Backend, text: str, deadline: float
    ) -> tuple[str, dict[str, Any]]:
        sock = self._pool.existing(cid, backend)
        fresh = sock is None
        if sock is None:
            sock = await self._pool.open(cid, backend, self._timeout(deadline, backend))
        # A fresh team socket starts a run; an open one takes a user message (queued by the
        # server if a run is going on). Claude Code only takes user messages.
        kind = "run" if fresh and backend is Backend.TEAM else "user_message"
        if backend is Backend.CLAUDE:
            confirms = CLAUDE_MESSAGE_ACK
        else:
            confirms = TEAM_RUN_ACK if kind == "run" else TEAM_MESSAGE_ACK
        try:
            ack = await sock.request(
                {"type": kind, "data": text}, confirms, self._timeout(deadline, backend)
            )
        except BackendUnavailable:
            if fresh:  # a new socket nobody answers holds no memory: do not keep it open
                await self._pool.close(cid, backend)
            raise
        _raise_if_refused(sock, ack)
        sock.start_run()
        if ack.data.get("message") == QUEUED:
            busy = _capital(backend.whom)
            spoken = f"{busy} is still working; I've queued that for its next turn."
        else:
            spoken = f"I've handed that to {backend.whom}."
        return spoken, {"sent": kind, "new_connection": fresh}

    async def _cancel(
        self, cid: str, backend: Backend, deadline: float
    ) -> tuple[str, dict[str, Any]]:
        sock = self._pool.existing(cid, backend)
        idle = f"{_capital(backend.whom)} isn't working on anything right now."
        if sock is None:
            return idle, {"sent": None}
        sock.cancel_requested()
        if backend is Backend.CLAUDE:
            # Claude Code does not acknowledge a cancel (SIGINT to the CLI): send and report.
            await sock.send({"type": "cancel"})
        else:
            ack = await sock.request(
                {"type": "cancel"}, TEAM_CANCEL_ACK, self._timeout(deadline, backend)
            )
            _raise_if_refused(sock, ack)
            if ack.data.get("message") == NO_ACTIVE_RUN:
                return idle, {"sent": "cancel"}
        return f"I've asked {backend.whom} to stop.", {"sent": "cancel"}

    async def _reset(self, cid: str, deadline: float) -> tuple[str, dict[str, Any]]:
        closed = await self._pool.close(cid, Backend.TEAM)
        sock: BackendSocket = await self._pool.open(
            cid, Backend.TEAM, self._timeout(deadline, Backend.TEAM)
        )
        assert sock.open
        return "The team has been reset and starts fresh.", {"closed_previous": closed}


def backend_of(tool: ToolName) -> Backend:
    """Which part of the agentic backend a tool works with."""
    claude = tool in (ToolName.SEND_TO_CLAUDE_CODE, ToolName.PAUSE_CLAUDE_CODE)
    return Backend.CLAUDE if claude else Backend.TEAM


def failure_event(job: ToolJob, result: ToolResult) -> ConversationEvent:
    """A failed call in the event log: what was said, and why, for whoever runs the stack."""
    return ConversationEvent(
        conversation_id=job.conversation_id,
        source="tool_worker",
        type=EventType.ERROR,
        payload={
            "message": result.message,
            "detail": result.detail,
            "kind": result.error_kind,
            "tool": job.name,
            "call_id": job.call_id,
        },
    )


def _raise_if_refused(sock: BackendSocket, ack: BackendMessage) -> None:
    if ack.type.lower() == "error":
        reason = ack.data.get("message") or "no reason given"
        detail = f"{sock.url} refused the request: {reason}"
        raise BackendUnavailable(sock.backend.whom, ToolErrorKind.REFUSED, detail)


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _text(job: ToolJob) -> str:
    text = job.arguments.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("I need some text to pass on.")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"That is too long to pass on (over {MAX_TEXT_CHARS} characters).")
    return text.strip()


def _result(job: ToolJob, **fields: Any) -> ToolResult:
    return ToolResult(
        call_id=job.call_id, conversation_id=job.conversation_id, name=job.name, **fields
    )
