"""What the fake "model" answers a chat completion with: text (`Say`), tool calls
(`CallTool`, `CallTools`) or an HTTP error (`Fail`, with OpenAI's error body)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
