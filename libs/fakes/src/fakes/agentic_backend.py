"""A test double of the agentic backend's two sockets, byte for byte as its source behaves.

- `WS /api/runs/{agent}`: the nested team. No greeting; lower-case types; the task echoed as a
  `textmessage`; sub-agents writing TERMINATE mid-run; tool names only inside `content`;
  "User message queued for next turn." during a run; `cancel` ends a run with "Agent run
  interrupted." and no `taskresult`; "Unknown command..." when idle; an unknown agent gets an
  `error` and close 1003; a non-JSON frame kills the control listener (nothing answers again).
- `WS /api/runs/ClaudeCode`: greets with a plain `system` message, then a `SystemEvent`; CamelCase
  types with a top-level `source`; `cancel` interrupts (a `TaskResult` with outcome error);
  anything else gets "Unknown command type: X".

The behaviour of runs is set by `scenario` (changeable while running):
quick, slow (many messages), error, disconnect (closes mid-run), garbage (malformed frames
mid-run, then a normal end), silent (accepts, never answers), hang (never completes the
WebSocket handshake). Hostile peers, for robustness tests: hostile (every kind of bad frame
mid-run: binary, deeply nested or non-object JSON, wrong field types, unknown types; then a
normal end), huge (a 10 MB message where the run's acknowledgement belongs), flood (thousands
of messages at once mid-run, then a normal end). Paths outside /api/runs/ get HTTP 404.

    with FakeAgenticBackend() as backend:      # in a thread; backend.url -> AGENTIC_WS_URL
        backend.scenario = "slow"
        backend.wait_for(lambda: backend.opened("MainConversation") == 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

TEAM_AGENTS = ("MainConversation",)
CLAUDE_AGENT = "ClaudeCode"
SCENARIOS = (
    "quick", "slow", "error", "disconnect", "garbage", "silent", "hang", "hostile", "huge", "flood",
)  # fmt: skip
HUGE_BYTES = 10 * 1024 * 1024
FLOOD_MESSAGES = 2000
# What a misbehaving backend may send mid-run (`hostile`), raw as it goes on the wire.
HOSTILE_FRAMES: tuple[str | bytes, ...] = (
    b"\x00\xffbinary\x80",  # a binary frame, not even UTF-8
    json.dumps({"type": "textmessage"}).encode(),  # a binary frame holding JSON
    "[" * 100_000,  # nesting deeper than any parser's recursion limit
    json.dumps({"type": 42, "data": {}}),
    json.dumps({"type": "x" * 500}),
    json.dumps({"type": "../../etc/passwd", "data": {}}),
    json.dumps({"type": "textmessage", "data": "not an object"}),
    json.dumps({"type": "system", "data": {"message": ["Agent run finished."]}}),
    json.dumps({"type": "made_up_type", "data": {"content": "\u0000\ud800?"}}),
    '{"type": "textmessage", "data": {"content": 1e999}}',
    "null",
    json.dumps({"type": "taskresult", "data": None}),  # wrong types in a run-ending message
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class ConnectionLog:
    agent: str
    received: list[Any] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False


class FakeAgenticBackend:
    def __init__(
        self, *, scenario: str = "quick", step_s: float = 0.01, host: str = "127.0.0.1"
    ) -> None:
        self.host = host  # where it listens: containers reach it at the Docker bridge's address
        self.scenario = scenario
        self.step_s = step_s  # pause between a run's messages (the slow scenario uses 5x)
        self.connections: list[ConnectionLog] = []
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0

    # --- running ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def __enter__(self) -> FakeAgenticBackend:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake agentic backend did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.run(self._serve(started))

    async def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # No keepalive pings: see FakeRealtimeServer.start (they would disturb Hypothesis).
        async with serve(
            self._handle,
            self.host,
            0,
            process_request=self._process_request,
            max_size=2**22,
            ping_interval=None,
        ) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            started.set()
            await self._stop.wait()
            server.close(close_connections=True)

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if self.scenario == "hang":
            await asyncio.Event().wait()  # the handshake never completes
        if not request.path.startswith("/api/runs/"):
            return connection.respond(404, "Not Found\n")
        return None

    # --- what tests look at -----------------------------------------------------------------

    def opened(self, agent: str) -> int:
        with self._lock:
            return sum(1 for c in self.connections if c.agent == agent)

    def open_now(self, agent: str) -> int:
        with self._lock:
            return sum(1 for c in self.connections if c.agent == agent and not c.closed)

    def received(self, agent: str) -> list[Any]:
        with self._lock:
            return [m for c in self.connections if c.agent == agent for m in c.received]

    def wait_for(self, predicate: Callable[[], object], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("fake agentic backend: condition not met in time")
                self._lock.wait(remaining)

    def _changed(self) -> None:
        with self._lock:
            self._lock.notify_all()

    # --- the protocols ----------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else ""
        agent = path.removeprefix("/api/runs/").split("?")[0]
        log = ConnectionLog(agent)
        with self._lock:
            self.connections.append(log)
        self._changed()
        try:
            if agent == CLAUDE_AGENT:
                await _ClaudeSession(self, ws, log).serve()
            elif agent in TEAM_AGENTS:
                await _TeamSession(self, ws, log).serve()
            else:
                await self._send(
                    ws, log, {"type": "error", "data": {"message": f"Unknown agent: {agent}"}}
                )
                await ws.close(1003, "unknown agent")
        except ConnectionClosed:
            pass
        finally:
            log.closed = True
            self._changed()

    async def _send(
        self, ws: ServerConnection, log: ConnectionLog, message: dict[str, Any]
    ) -> None:
        message.setdefault("timestamp", _now())
        log.sent.append(message)
        await ws.send(json.dumps(message))


class _TeamSession:
    """One team instance per connection; its memory lives as long as the socket."""

    def __init__(
        self, backend: FakeAgenticBackend, ws: ServerConnection, log: ConnectionLog
    ) -> None:
        self.backend, self.ws, self.log = backend, ws, log
        self.run_task: asyncio.Task[None] | None = None
        self.listener_alive = True

    async def send(self, type_: str, data: dict[str, Any]) -> None:
        await self.backend._send(self.ws, self.log, {"type": type_, "data": data})

    async def serve(self) -> None:
        async for frame in self.ws:
            try:
                message = json.loads(frame)
            except (TypeError, ValueError):
                # The real server's control listener dies on a non-JSON frame.
                self.log.received.append(frame)
                self.backend._changed()
                self.listener_alive = False
                continue
            self.log.received.append(message)
            self.backend._changed()
            if not self.listener_alive or self.backend.scenario == "silent":
                continue
            await self.on_message(message)
        if self.run_task:
            self.run_task.cancel()

    async def on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        running = self.run_task is not None and not self.run_task.done()
        if kind == "run":
            if running:
                await self.send("system", {"message": "New run requested, cancelling current run."})
                await self.cancel_run()
            self.start_run(str(message.get("data", "")))
        elif kind == "user_message":
            if running:
                await self.send("system", {"message": "User message queued for next turn."})
            else:
                self.start_run(str(message.get("data", "")))
        elif kind == "cancel":
            if running:
                await self.send("system", {"message": "Cancellation requested."})
                await self.cancel_run()
                await self.send("system", {"message": "Agent run interrupted."})
            else:
                await self.send("system", {"message": "No active run to cancel."})
        elif not running:
            await self.send("error", {"message": "Unknown command. Use 'run' or 'user_message'."})

    def start_run(self, task: str) -> None:
        self.run_task = asyncio.create_task(self.run(task))

    async def cancel_run(self) -> None:
        if self.run_task:
            self.run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.run_task

    async def run(self, task: str) -> None:
        scenario, step = self.backend.scenario, self.backend.step_s
        if scenario == "huge":  # instead of the acknowledgement
            await self.send("textmessage", {"content": "x" * HUGE_BYTES, "source": "Coder"})
            return
        await self.send("system", {"message": f"Initiating agent run with task: {task}"})
        messages: list[dict[str, Any]] = []
        for source, content in [("user", task), ("user", task)]:  # the task comes back twice
            messages.append(await self.text(source, content))
        await asyncio.sleep(step)
        messages.append(await self.text("Planner", f"Plan for: {task}. Coder, go ahead. TERMINATE"))
        if scenario == "error":
            await self.send("error", {"message": "Model client error: rate limit exceeded"})
            return
        if scenario == "disconnect":
            await self.ws.close(1011, "internal error")
            return
        if scenario == "garbage":
            await self.ws.send("this is not JSON {")
            await self.ws.send(json.dumps({"no": "type"}))
            await self.ws.send(json.dumps(["a", "list"]))
        if scenario == "hostile":
            for frame in HOSTILE_FRAMES:
                await self.ws.send(frame)
        if scenario == "flood":
            for i in range(FLOOD_MESSAGES):
                await self.ws.send(json.dumps({"type": "textmessage", "data": {"n": i}}))
        call_id = f"call_{len(self.log.sent)}"
        await self.send(
            "toolcallrequestevent",
            {
                "source": "Coder",
                "content": [
                    {
                        "id": call_id,
                        "name": "write_file",
                        "arguments": json.dumps({"path": "notes.md"}),
                    }
                ],
            },
        )
        await asyncio.sleep(step)
        await self.send(
            "toolcallexecutionevent",
            {
                "source": "Coder",
                "content": [
                    {
                        "call_id": call_id,
                        "name": "write_file",
                        "content": "wrote notes.md",
                        "is_error": False,
                    }
                ],
            },
        )
        for i in range(30 if scenario == "slow" else 0):
            await asyncio.sleep(step * 5)
            messages.append(await self.text("Coder", f"progress step {i + 1}"))
        messages.append(await self.text("Reviewer", f"Done: {task}. The notes are written."))
        await self.send(
            "taskresult", {"messages": messages, "stop_reason": "Text 'TERMINATE' mentioned"}
        )
        await self.send("system", {"message": "Agent run finished."})

    async def text(self, source: str, content: str) -> dict[str, Any]:
        data = {
            "id": f"msg-{len(self.log.sent)}",
            "source": source,
            "models_usage": {"prompt_tokens": 12, "completion_tokens": 7},
            "content": content,
            "type": "TextMessage",
        }
        await self.send("textmessage", data)
        return data


class _ClaudeSession:
    def __init__(
        self, backend: FakeAgenticBackend, ws: ServerConnection, log: ConnectionLog
    ) -> None:
        self.backend, self.ws, self.log = backend, ws, log
        self.task: asyncio.Task[None] | None = None

    async def send(self, type_: str, data: dict[str, Any], *, source: bool = True) -> None:
        message: dict[str, Any] = {"type": type_, "data": data}
        if source:
            message["source"] = "claude_code"
        await self.backend._send(self.ws, self.log, message)

    async def serve(self) -> None:
        if self.backend.scenario != "silent":
            await self.send(
                "system",
                {"message": "Claude Code session initialized", "working_dir": "/work"},
                source=False,
            )
            await self.send("SystemEvent", {"message": "init", "details": {"model": "claude"}})
        async for frame in self.ws:
            try:
                message = json.loads(frame)
            except (TypeError, ValueError):
                message = frame
            self.log.received.append(message)
            self.backend._changed()
            if self.backend.scenario == "silent":
                continue
            await self.on_message(message)
        if self.task:
            self.task.cancel()

    async def on_message(self, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "user_message":
            text = str(message.get("data", ""))
            await self.send(
                "system", {"message": f"Sent message to Claude Code: {text}"}, source=False
            )
            self.task = asyncio.create_task(self.work(text))
        elif kind == "cancel":
            if self.task and not self.task.done():
                self.task.cancel()
                await self.send(
                    "TaskResult",
                    {
                        "outcome": "error",
                        "message": "Interrupted by user",
                        "duration_ms": 10,
                        "usage": {},
                        "models_usage": {},
                    },
                )
        else:
            await self.send("error", {"message": f"Unknown command type: {kind}"}, source=False)

    async def work(self, text: str) -> None:
        scenario, step = self.backend.scenario, self.backend.step_s
        await self.send("user", {"content": text})
        await asyncio.sleep(step)
        await self.send(
            "TextMessage",
            {
                "content": f"Looking at: {text}",
                "source": "ClaudeCode",
                "role": "assistant",
                "raw": {},
            },
        )
        if scenario == "error":
            await self.send("Error", {"message": "API overloaded", "source": "claude_stderr"})
            return
        if scenario == "disconnect":
            await self.ws.close(1011, "process exited")
            return
        await self.send(
            "ToolCallRequestEvent",
            {
                "name": "Edit",
                "source": "ClaudeCode",
                "arguments": {"file": "app.py"},
                "id": "tool-1",
            },
        )
        for i in range(30 if scenario == "slow" else 1):
            await asyncio.sleep(step * (5 if scenario == "slow" else 1))
            await self.send("raw_stdout", {"line": f"working {i}"})
        await self.send(
            "ToolCallExecutionEvent",
            {
                "name": "tool",
                "result": "edited app.py",
                "is_error": False,
                "id": "tool-1",
            },
        )
        await self.send(
            "TaskResult",
            {
                "outcome": "success",
                "message": f"Finished: {text}. Edited app.py.",
                "duration_ms": 1234,
                "usage": {"input_tokens": 10},
                "models_usage": {},
            },
        )
