"""The wire format of an answer: the chunks of a stream, or one `chat.completion` object,
built from a request and the scenario's reply."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

from fakes.chat.received import RecordedRequest, message_text
from fakes.chat.replies import CallTool, CallTools, Reply, Say

DEFAULT_MODEL = "fake-local-model"


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
