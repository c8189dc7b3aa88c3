"""What OpenAI would reject in a chat completion request's body, worded as OpenAI words it."""

from __future__ import annotations

from typing import Any

ROLES = ("system", "developer", "user", "assistant", "tool")


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
