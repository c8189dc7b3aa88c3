"""What the fake server received: the endpoints' paths, each HTTP request as recorded
(with what was answered), and readers of the messages a request carries."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakes.chat.replies import CallTool, CallTools, Reply

API_PREFIX = "/v1"
COMPLETIONS_PATH = API_PREFIX + "/chat/completions"
MODELS_PATH = API_PREFIX + "/models"


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
