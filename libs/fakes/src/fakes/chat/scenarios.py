"""Scenarios: what the fake "model" answers, decided per request from its messages. The
default one, `Script` (replies in order), and the tool names and texts they use."""

from __future__ import annotations

import re
from collections.abc import Callable

from fakes.chat.received import RecordedRequest, is_progress_line, message_text, tool_result
from fakes.chat.replies import REPLY_TYPES, CallTool, Reply, Say

TEAM_TOOL = "send_to_nested"
CLAUDE_TOOL = "send_to_claude_code"
DEFAULT_TEXT = "I can hand work to the team or to Claude Code."
RUNNING_TEXT = "It is running. I will tell you when it is done."
SUMMARY_TEXT = "The run has ended."

Scenario = Callable[[RecordedRequest], Reply]


_MENTIONS = (
    (re.compile(r"\bteam\b", re.I), re.compile(r"\bteam to\s+(.*)", re.I | re.S), TEAM_TOOL),
    (
        re.compile(r"\bclaude\b", re.I),
        re.compile(r"\bclaude(?: code)? to\s+(.*)", re.I | re.S),
        CLAUDE_TOOL,
    ),
)


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
