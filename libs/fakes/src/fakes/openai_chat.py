"""A protocol-faithful test double of an OpenAI-compatible Chat Completions server: what Ollama,
llama.cpp's server and vLLM expose under `/v1`, as the `openai` client (and Pipecat's
`OpenAILLMService` on top of it) reads it.

    async with FakeChatServer() as fake:                 # in the test's event loop
        llm = OpenAILLMService(api_key="x", base_url=fake.url, ...)
        ...
        request = await fake.async_wait_for_completion()
        assert "send_to_nested" in request.tool_names

    with FakeChatServer(chunk_delay_s=0.02) as fake:     # in a thread (sync tests, benchmarks)
        ...

Endpoints: `POST /v1/chat/completions` (server-sent events with `stream: true`, else one
`chat.completion` object) and `GET /v1/models`; anything else gets a 404. Errors carry OpenAI's
body, `{"error": {"message", "type", "param", "code"}}`.

What the "model" answers is decided per request by a scenario, from the request's messages:
`default_scenario` (see there), a `Script` of replies in order, any callable
`(RecordedRequest) -> Reply`, or one constant `Reply`. Replies: `Say`, `CallTool`, `CallTools`,
`Fail`. The scenario, the delays and `fail_with_status` are attributes, changeable while running.

Run standalone: `.venv/bin/python -m fakes.openai_chat --port 11434`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from fakes.realtime.recording import Recorder
from fakes.threaded import ThreadableServer

T = TypeVar("T")

LOGGER = logging.getLogger("fakes.openai_chat")

API_PREFIX = "/v1"
COMPLETIONS_PATH = API_PREFIX + "/chat/completions"
MODELS_PATH = API_PREFIX + "/models"
DEFAULT_MODEL = "fake-local-model"

TEAM_TOOL = "send_to_nested"
CLAUDE_TOOL = "send_to_claude_code"
DEFAULT_TEXT = "I can hand work to the team or to Claude Code."
RUNNING_TEXT = "It is running. I will tell you when it is done."
SUMMARY_TEXT = "The run has ended."

ROLES = ("system", "developer", "user", "assistant", "tool")

# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    """Answer with text: streamed as `delta.content` pieces split at word boundaries."""

    text: str


@dataclass(frozen=True)
class CallTool:
    """Call a function. A mapping of `arguments` is sent JSON-encoded; a str is sent as it is
    (valid JSON or not). Without an `id`, one is generated: `call_<request>_<index>`."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class CallTools:
    """Parallel tool calls in one reply (`tool_calls[].index` 0, 1, ...)."""

    calls: tuple[CallTool, ...]


# status -> (message, type, code), as OpenAI words them.
_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Bad request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: ("Rate limit reached. Please try again later.", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: ("The server is overloaded or not ready yet.", "server_error", None),
}


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error status and OpenAI's error body. Message, type and code default
    to OpenAI's for the status (with a message of your own, the code defaults to null).
    `retry` sets the `x-should-retry` header, which the openai client obeys over its own rule
    (it retries 408, 409, 429 and 5xx twice by default, with backoff); None sends no header,
    as OpenAI and the local servers do."""

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    retry: bool | None = None

    def body(self) -> dict[str, Any]:
        fallback = _ERRORS[500] if self.status >= 500 else _ERRORS[400]
        message, type_, code = _ERRORS.get(self.status, fallback)
        if self.message is not None:
            message, code = self.message, None
        return _error_body(message, self.type or type_, self.code or code)


Reply = Say | CallTool | CallTools | Fail
REPLY_TYPES = (Say, CallTool, CallTools, Fail)


def _error_body(
    message: str, type_: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


# --- what was received ----------------------------------------------------------------------


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message's `content`: a string, or the `text` parts of a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


@dataclass
class RecordedRequest:
    """One HTTP request and what was answered. `body` is the parsed JSON (None when absent or
    not JSON); `headers` have `Authorization` redacted. `sent` holds every JSON object sent:
    the chunks of a stream (without `[DONE]`), the `chat.completion`, or the error body.
    Accessors hand out snapshots: re-read them (`fake.completions()`) to see progress."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    body_text: str = ""
    status: int | None = None
    reply: Reply | None = None  # the scenario's decision, tool call ids filled in
    sent: list[dict[str, Any]] = field(default_factory=list)
    done_sent: bool = False  # the stream's `data: [DONE]`
    finished: bool = False  # the answer is complete, or was abandoned
    aborted: bool = False  # the client went away (or the server closed) mid-answer
    received_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None

    def snapshot(self) -> RecordedRequest:
        return dataclasses.replace(self, headers=dict(self.headers), sent=list(self.sent))

    # The request body.

    def _get(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None

    @property
    def is_completion(self) -> bool:
        return self.method == "POST" and self.path == COMPLETIONS_PATH

    @property
    def model(self) -> str | None:
        model = self._get("model")
        return model if isinstance(model, str) else None

    @property
    def stream(self) -> bool:
        return self._get("stream") is True

    @property
    def include_usage(self) -> bool:
        options = self._get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self._get("messages")
        if not isinstance(messages, list):
            return []
        return [m for m in messages if isinstance(m, dict)]

    @property
    def tools(self) -> list[dict[str, Any]]:
        tools = self._get("tools")
        return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []

    @property
    def tool_names(self) -> list[str]:
        names = []
        for tool in self.tools:
            function = tool.get("function")
            if tool.get("type") == "function" and isinstance(function, dict):
                names.append(str(function.get("name")))
        return names

    @property
    def tool_choice(self) -> Any:
        return self._get("tool_choice")

    @property
    def callable_tools(self) -> list[str]:
        """The tools the model may call: those offered, unless `tool_choice` is "none"."""
        return [] if self.tool_choice == "none" else self.tool_names

    @property
    def last_message(self) -> dict[str, Any] | None:
        messages = self.messages
        return messages[-1] if messages else None

    @property
    def last_user_text(self) -> str | None:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message_text(message)
        return None

    def tool_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("role") == "tool"]

    # The answer.

    @property
    def text_sent(self) -> str:
        """The assistant text answered (streamed pieces joined, or the message content)."""
        parts = []
        for obj in self.sent:
            for choice in obj.get("choices") or []:
                body = choice.get("delta") or choice.get("message") or {}
                parts.append(body.get("content") or "")
        return "".join(parts)

    @property
    def tool_calls_sent(self) -> list[CallTool]:
        reply = self.reply
        if isinstance(reply, CallTool):
            return [reply]
        if isinstance(reply, CallTools):
            return list(reply.calls)
        return []


Scenario = Callable[[RecordedRequest], Reply]


# --- scenarios ------------------------------------------------------------------------------

_MENTIONS = (
    (re.compile(r"\bteam\b", re.I), re.compile(r"\bteam to\s+(.*)", re.I | re.S), TEAM_TOOL),
    (
        re.compile(r"\bclaude\b", re.I),
        re.compile(r"\bclaude(?: code)? to\s+(.*)", re.I | re.S),
        CLAUDE_TOOL,
    ),
)


_PROGRESS_LINE = re.compile(r"\[(?:TEAM|CODE) [^\]]+\] ")


def is_progress_line(message: Mapping[str, Any]) -> bool:
    """A user message carrying one of the gateway's tagged team/Claude Code progress lines;
    a run's end (`[TEAM RESULT] ...`) is one too."""
    return message.get("role") == "user" and bool(_PROGRESS_LINE.match(message_text(message)))


def tool_result(message: Mapping[str, Any]) -> tuple[str, bool] | None:
    """What a tool result message says, and whether the tool is done: a `tool` message (its
    content JSON-decoded when it is a JSON string, as Pipecat encodes results), or an async-tool
    message of Pipecat's (`{"type": "async_tool", "status": "running"|"finished", "result"?}`
    in a `tool` or `developer` message). None for any other message."""
    role = message.get("role")
    if role not in ("tool", "developer"):
        return None
    text = message_text(message)
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("type") == "async_tool":
        result = decoded.get("result")
        if not isinstance(result, str):
            return ("", False)  # started: nothing yet
        with contextlib.suppress(ValueError):
            inner = json.loads(result)
            result = inner if isinstance(inner, str) else result
        return (result, decoded.get("status") == "finished")
    if role == "developer":
        return None
    return (decoded if isinstance(decoded, str) else text, True)


def default_scenario(request: RecordedRequest) -> Reply:
    """- The last message is a run's end (`[TEAM RESULT] ...`, asking for a summary):
      `SUMMARY_TEXT`.
    - The last message is a tool result: "Done: <result>" (`tool_result`; an async tool
      still running without a result gets `RUNNING_TEXT`).
    - Else, about the last user message: one mentioning "team" calls `send_to_nested`, one
      mentioning "claude" `send_to_claude_code`, with `{"text": <what follows "team to" /
      "claude (code) to", else the whole text>}`, if the request offers that tool (and
      `tool_choice` is not "none"); anything else gets `DEFAULT_TEXT`.

    The gateway's tagged progress lines (`[TEAM Coder] Using tool: ...`) are context, not a
    request, so they are read past, as a real model does: one may land after a tool call and
    before its result is read, and its "TEAM" is not the user asking for the team again."""
    last = request.last_message
    if last is not None and is_progress_line(last) and "RESULT] " in message_text(last):
        return Say(SUMMARY_TEXT)
    spoken = [m for m in request.messages if not is_progress_line(m)]
    result = tool_result(spoken[-1]) if spoken else None
    if result is not None:
        text, done = result
        return Say(f"Done: {text}" if done or text else RUNNING_TEXT)
    users = [m for m in spoken if m.get("role") == "user"]
    text = message_text(users[-1]) if users else ""
    for mention, after, tool in _MENTIONS:
        if mention.search(text):
            if tool not in request.callable_tools:
                break
            match = after.search(text)
            return CallTool(tool, {"text": (match.group(1) if match else text).strip()})
    return Say(DEFAULT_TEXT)


class Script:
    """Replies in order, one per chat completion request; the last one repeats. An entry may
    be a scenario (a callable) deciding that request's reply."""

    def __init__(self, *replies: Reply | Scenario) -> None:
        if not replies:
            raise ValueError("a script needs at least one reply")
        self.replies = replies
        self.calls = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        step = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return step if isinstance(step, REPLY_TYPES) else step(request)


# --- the wire format ------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Text pieces split at word boundaries (each with its leading whitespace); they join back
    to `text`."""
    return re.findall(r"\s*\S+|\s+", text)


def json_pieces(text: str) -> list[str]:
    """Token-like pieces of a JSON string (punctuation, then a word); they join back to it."""
    return re.findall(r"\W*\w+|\W+", text)


def _prompt_tokens(request: RecordedRequest) -> int:
    count = sum(3 + len(message_text(m).split()) for m in request.messages)
    return count + 10 * len(request.tools)


class _Answer:
    """The objects of one completion: built whole before anything is sent."""

    def __init__(self, request: RecordedRequest, reply: Say | CallTool | CallTools) -> None:
        self.request = request
        self.reply = reply
        self.id = f"chatcmpl-fake{request.index:06d}"
        self.created = int(time.time())
        self.model = request.model or DEFAULT_MODEL
        self.calls = self._calls()

    def _calls(self) -> list[CallTool]:
        if isinstance(self.reply, Say):
            return []
        calls = self.reply.calls if isinstance(self.reply, CallTools) else (self.reply,)
        return [
            c if c.id else dataclasses.replace(c, id=f"call_{self.request.index}_{i}")
            for i, c in enumerate(calls)
        ]

    @property
    def resolved_reply(self) -> Reply:
        if isinstance(self.reply, Say):
            return self.reply
        if isinstance(self.reply, CallTool):
            return self.calls[0]
        return CallTools(tuple(self.calls))

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def usage(self, completion_tokens: int) -> dict[str, int]:
        prompt_tokens = _prompt_tokens(self.request)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if self.request.include_usage:
            chunk["usage"] = None  # OpenAI: null on every chunk but the last
        return chunk

    def chunks(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        pieces = 0
        if isinstance(self.reply, Say):
            out.append(self._chunk({"role": "assistant", "content": ""}))
            for piece in words(self.reply.text):
                out.append(self._chunk({"content": piece}))
                pieces += 1
        for i, call in enumerate(self.calls):
            head: dict[str, Any] = {
                "index": i,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            delta: dict[str, Any] = {"tool_calls": [head]}
            out.append(
                self._chunk({"role": "assistant", "content": None, **delta} if i == 0 else delta)
            )
            pieces += 1
            for piece in json_pieces(call.arguments_json):
                out.append(
                    self._chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                )
                pieces += 1
        out.append(self._chunk({}, self.finish_reason))
        if self.request.include_usage:
            last = {**self._chunk({}), "choices": [], "usage": self.usage(pieces)}
            out.append(last)
        return out

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        pieces = 0
        if isinstance(self.reply, Say):
            message["content"] = self.reply.text
            pieces = len(words(self.reply.text))
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in self.calls
            ]
            pieces = sum(1 + len(json_pieces(c.arguments_json)) for c in self.calls)
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self.usage(pieces),
        }


def _invalid_messages(messages: list[Any]) -> str | None:
    """What OpenAI would reject in `messages` (roles, and tool results answering the tool calls
    of the assistant message right before them, every call answered), or None."""
    pending: set[str] | None = None  # ids of the last assistant message's unanswered calls
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"Invalid value for 'messages[{i}].role': expected one of {', '.join(ROLES)}."
        role = message["role"]
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                return (
                    f"Missing parameter 'tool_call_id': messages with role 'tool' must have a "
                    f"'tool_call_id' (messages[{i}])."
                )
            if pending is None:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls' (messages[{i}])."
                )
            if call_id not in pending:
                return (
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in "
                    f"'tool_calls' of previous message (messages[{i}])."
                )
            pending.discard(call_id)
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(pending))}"
            )
        pending = None
        calls = message.get("tool_calls") if role == "assistant" else None
        if calls:
            if not isinstance(calls, list) or not all(
                isinstance(c, dict) and isinstance(c.get("id"), str) for c in calls
            ):
                return f"Invalid value for 'messages[{i}].tool_calls'."
            pending = {c["id"] for c in calls}
    if pending:
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(sorted(pending))}"
        )
    return None


def _invalid_body(body: Any, validate_messages: bool) -> str | None:
    if not isinstance(body, dict):
        return "Invalid request body: expected a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    if "messages" not in body:
        return "Missing required parameter: 'messages'."
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "Invalid value for 'messages': expected a non-empty array."
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list)
        and all(
            isinstance(t, dict)
            and t.get("type") == "function"
            and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str)
            for t in tools
        )
    ):
        return "Invalid value for 'tools': expected an array of function tools."
    return _invalid_messages(messages) if validate_messages else None


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    secret = ("authorization", "api-key")
    return {k: ("<redacted>" if k.lower() in secret else v) for k, v in headers.items()}


class _Closing(Exception):
    """The server is shutting down: abandon the answer."""


# --- the server -----------------------------------------------------------------------------


class FakeChatServer(ThreadableServer):
    """A local stand-in for an OpenAI-compatible `/v1` (chat completions and models).

    `url` is the client's `base_url`. `api_key`, when given, is required as `Authorization:
    Bearer <key>` (401 otherwise); without it any or no key is accepted, as Ollama does.
    `first_token_delay_s` is the time from the response headers to the first chunk (the whole
    answer, not streaming), `chunk_delay_s` the time between chunks. `fail_with_status` answers
    every completion with that error (`Fail(status)`). `validate_messages` rejects, as OpenAI
    does, tool messages that do not answer the tool calls of the assistant message before them.
    """

    thread_name = "fake-openai-chat"

    def __init__(
        self,
        *,
        scenario: Scenario | Reply = default_scenario,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        first_token_delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        fail_with_status: int | None = None,
        validate_messages: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.scenario = scenario
        self.model = model
        self.api_key = api_key
        self.first_token_delay_s = first_token_delay_s
        self.chunk_delay_s = chunk_delay_s
        self.fail_with_status = fail_with_status
        self.validate_messages = validate_messages
        self.host = host
        self.port = port
        self._recorder = Recorder()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._closing: asyncio.Event | None = None
        super().__init__()

    @property
    def url(self) -> str:
        """The `base_url` for a client: http://127.0.0.1:PORT/v1."""
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def aclose(self) -> None:
        """Stop listening; answers in progress are abandoned (`aborted`)."""
        runner, self._runner = self._runner, None
        if self._closing is not None:
            self._closing.set()
        if runner is not None:
            await runner.cleanup()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # -- requests --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        with self._recorder.lock:
            record = RecordedRequest(
                index=len(self._requests),
                method=request.method,
                path=request.path,
                headers=_redacted(request.headers),
                body_text=raw.decode("utf-8", "replace"),
            )
            self._requests.append(record)
        bad_json = False
        if raw.strip():
            try:
                record.body = json.loads(raw)
            except ValueError:
                bad_json = True
        self._recorder.changed()
        try:
            try:
                response = await self._dispatch(request, record, bad_json)
            except _Closing:
                response = self._abort(request, record)
            except Exception as exc:
                self._report(exc)
                response = self._fail(record, Fail(500))
            if record.aborted:
                return response
            # Send it now, so that `finished` means the client has the whole answer.
            try:
                await response.prepare(request)
                await response.write_eof()
            except ConnectionError:
                self._update(record, aborted=True)
            return response
        finally:
            self._update(record, finished=True, finished_at=time.monotonic())

    async def _dispatch(
        self, request: web.Request, record: RecordedRequest, bad_json: bool
    ) -> web.StreamResponse:
        if record.path.startswith(API_PREFIX + "/") and (denied := self._unauthorized(request)):
            return self._fail(record, denied)
        if record.path == MODELS_PATH and record.method == "GET":
            body = {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
            }
            return self._json(record, 200, body)
        if not record.is_completion:
            message = f"Invalid URL ({record.method} {record.path})"
            return self._fail(record, Fail(404, message, "invalid_request_error"))
        if bad_json:
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)"
            )
            return self._fail(record, Fail(400, message))
        if problem := _invalid_body(record.body, self.validate_messages):
            return self._fail(record, Fail(400, problem))
        if self.fail_with_status is not None:
            return self._fail(record, Fail(self.fail_with_status))
        scenario = self.scenario
        reply = scenario if isinstance(scenario, REPLY_TYPES) else scenario(record.snapshot())
        if isinstance(reply, Fail):
            self._update(record, reply=reply)
            return self._fail(record, reply)
        answer = _Answer(record, reply)
        self._update(record, reply=answer.resolved_reply)
        if record.stream:
            return await self._stream(request, record, answer)
        await self._pause(self.first_token_delay_s)
        return self._json(record, 200, answer.completion())

    def _unauthorized(self, request: web.Request) -> Fail | None:
        if self.api_key is None:
            return None
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not key.strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return Fail(401, message, "invalid_request_error")
        if key != self.api_key:
            return Fail(401)
        return None

    async def _stream(
        self, request: web.Request, record: RecordedRequest, answer: _Answer
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        self._update(record, status=200)
        await response.prepare(request)
        try:
            for i, chunk in enumerate(answer.chunks()):
                await self._pause(self.first_token_delay_s if i == 0 else self.chunk_delay_s)
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                with self._recorder.lock:
                    record.sent.append(chunk)
                self._recorder.changed()
            await self._pause(self.chunk_delay_s)
            await response.write(b"data: [DONE]\n\n")
            self._update(record, done_sent=True)
            await response.write_eof()
        except ConnectionError:
            self._update(record, aborted=True)
        except _Closing:
            self._abort(request, record)
        return response

    def _abort(self, request: web.Request, record: RecordedRequest) -> web.Response:
        """The server is closing mid-answer: drop the connection, as a dying server does (the
        client sees a broken response, not a clean end)."""
        if request.transport is not None:
            request.transport.abort()
        self._update(record, aborted=True)
        return web.Response(status=503)  # never sent

    async def _pause(self, seconds: float) -> None:
        closing = self._closing
        assert closing is not None
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), seconds)
        if closing.is_set():
            raise _Closing

    def _json(self, record: RecordedRequest, status: int, body: dict[str, Any]) -> web.Response:
        with self._recorder.lock:
            record.status = status
            record.sent.append(body)
        self._recorder.changed()
        return web.json_response(body, status=status)

    def _fail(self, record: RecordedRequest, fail: Fail) -> web.Response:
        response = self._json(record, fail.status, fail.body())
        if fail.retry is not None:
            response.headers["x-should-retry"] = "true" if fail.retry else "false"
        return response

    def _update(self, record: RecordedRequest, **changes: Any) -> None:
        with self._recorder.lock:
            for name, value in changes.items():
                setattr(record, name, value)
        self._recorder.changed()

    def _report(self, exc: BaseException) -> None:
        LOGGER.error("fake chat server error", exc_info=exc)
        with self._recorder.lock:
            self._errors.append(exc)
        self._recorder.changed()

    # -- recording -------------------------------------------------------------------------------

    def requests(self) -> list[RecordedRequest]:
        """Every request received (any path), in order, as snapshots."""
        with self._recorder.lock:
            return [r.snapshot() for r in self._requests]

    def completions(self) -> list[RecordedRequest]:
        """The `POST /v1/chat/completions` requests (answered with an error or not)."""
        return [r for r in self.requests() if r.is_completion]

    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the fake itself (a scenario's among them): expect none."""
        with self._recorder.lock:
            return list(self._errors)

    def _finished_completion(self, count: int) -> RecordedRequest | None:
        done = [r for r in self.completions() if r.finished]
        return done[count - 1] if len(done) >= count else None

    def wait_for_completion(self, count: int = 1, timeout_s: float = 10.0) -> RecordedRequest:
        """The `count`-th chat completion request, once its answer is complete."""
        what = f"{count} answered chat completion(s)"
        self.wait_for(lambda: self._finished_completion(count), timeout_s, what)
        found = self._finished_completion(count)
        assert found is not None
        return found

    async def async_wait_for_completion(
        self, count: int = 1, timeout_s: float = 10.0
    ) -> RecordedRequest:
        what = f"{count} answered chat completion(s)"
        await self.async_wait_for(lambda: self._finished_completion(count), timeout_s, what)
        found = self._finished_completion(count)
        assert found is not None
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.02)
    args = parser.parse_args()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with FakeChatServer(
        port=args.port,
        model=args.model,
        api_key=args.api_key,
        first_token_delay_s=args.first_token_delay,
        chunk_delay_s=args.chunk_delay,
    ) as fake:
        print(f"base_url: {fake.url}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
