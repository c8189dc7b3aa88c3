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
import signal
import threading

from fakes.chat.answer import DEFAULT_MODEL, json_pieces, words
from fakes.chat.received import RecordedRequest, is_progress_line, message_text, tool_result
from fakes.chat.replies import REPLY_TYPES, CallTool, CallTools, Fail, Reply, Say
from fakes.chat.scenarios import (
    CLAUDE_TOOL,
    DEFAULT_TEXT,
    RUNNING_TEXT,
    SUMMARY_TEXT,
    TEAM_TOOL,
    Scenario,
    Script,
    default_scenario,
)
from fakes.chat.server import FakeChatServer

__all__ = [
    "CLAUDE_TOOL",
    "DEFAULT_MODEL",
    "DEFAULT_TEXT",
    "REPLY_TYPES",
    "RUNNING_TEXT",
    "SUMMARY_TEXT",
    "TEAM_TOOL",
    "CallTool",
    "CallTools",
    "Fail",
    "FakeChatServer",
    "RecordedRequest",
    "Reply",
    "Say",
    "Scenario",
    "Script",
    "default_scenario",
    "is_progress_line",
    "json_pieces",
    "message_text",
    "tool_result",
    "words",
]


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
