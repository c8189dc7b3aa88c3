"""Scripted behaviour of the fake Realtime server, chosen per connection by the URL path.

A scenario says what the "user" said in each turn (the transcripts the server reports for the
speech it detects) and what the "model" does in answer: speak, call a tool, or fail. Text
fields are `str.format` templates over these names (a missing one is empty):
`transcript` (the user turn's transcript), `tool_output` (the function_call_output, JSON-decoded
when it is a JSON string), `last_message` (text of the last message item the client created
since the previous response), `instructions` (the response.create's, else the session's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Speak:
    """Answer with audio and its transcript. The audio lasts `seconds`, else `ms_per_char` per
    character of the text (at least `min_seconds`)."""

    text: str
    seconds: float | None = None
    ms_per_char: float = 60.0
    min_seconds: float = 0.4

    def duration_ms(self, text: str, chunk_ms: int) -> int:
        seconds = self.seconds
        if seconds is None:
            seconds = max(self.min_seconds, len(text) * self.ms_per_char / 1000)
        chunks = max(1, round(seconds * 1000 / chunk_ms))
        return chunks * chunk_ms


@dataclass(frozen=True)
class CallTool:
    """Call a function tool. String values in `arguments` are templates too."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fail:
    """End the response with `response.done` status `failed` (no output)."""

    code: str = "server_error"
    message: str = "The server had an error while processing your request."


Action = Speak | CallTool | Fail


def _error(code: str, message: str) -> Mapping[str, Any]:
    return MappingProxyType({"type": "invalid_request_error", "code": code, "message": message})


@dataclass(frozen=True)
class Reject:
    """Refuse the WebSocket upgrade with this HTTP status and JSON body."""

    status: int = 401
    body: Mapping[str, Any] = field(
        default_factory=lambda: {
            "error": {
                "message": "Incorrect API key provided: sk-***. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        }
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    # Transcript of user turn i (the last one repeats).
    user_transcripts: tuple[str, ...] = ("Hello, can you hear me?",)
    # What the model does after user turn i (the last one repeats).
    turns: tuple[Action, ...] = (Speak("You said: {transcript}"),)
    # After a function_call_output, on the client's response.create.
    after_tool: Action = Speak("Here is what I found: {tool_output}")
    # On a client response.create with no user turn or tool output pending: about the message
    # items the client created since the last response, else `greeting`.
    on_request: Action = Speak("Here is an update. {last_message}")
    greeting: Action = Speak("Hello! How can I help you today?")
    # An `error` event sent after the first client event of type `error_after` is handled.
    error: Mapping[str, Any] | None = None
    error_after: str = "session.update"
    # Close the socket after this many audio deltas of responses with these triggers ("turn",
    # "tool_output", "request", "greeting"): with a close frame of `close_code`, or (None) by
    # dropping the TCP connection.
    close_after_deltas: int | None = None
    close_triggers: tuple[str, ...] = ("turn",)
    close_code: int | None = 1011
    reject: Reject | None = None
    stall: bool = False  # send session.created, then never answer anything
    # Answer this many user turns, then hang mid-conversation: the next turn is committed
    # (speech_stopped, committed, its transcript) and then nothing ever comes again.
    stall_after_turns: int | None = None
    # User transcripts are sent right before the server-VAD response starts (0), or this many
    # seconds later, concurrently with the response (as the real API often does).
    transcription_delay_s: float = 0.0
    # Time from response.created to the first output (the model "thinking"). With 0, Pipecat
    # 1.14 handles the function call before its own end-of-user-turn frame and never asks for
    # a response to the tool's result: the real API always takes a few hundred ms.
    response_delay_s: float = 0.2

    def user_transcript(self, turn: int) -> str:
        return self.user_transcripts[min(turn, len(self.user_transcripts) - 1)]

    def turn_action(self, turn: int) -> Action:
        return self.turns[min(turn, len(self.turns) - 1)]


TOOL_CALL_TEXT = "Write a haiku about the sea."

BUILTIN: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("reply"),
        Scenario(
            "tool_call",
            user_transcripts=(
                "Please ask the team to write a haiku about the sea.",
                "Thank you.",
            ),
            turns=(
                CallTool("send_to_nested", {"text": TOOL_CALL_TEXT}),
                Speak("You said: {transcript}"),
            ),
            after_tool=Speak("The team has answered. {tool_output}"),
        ),
        Scenario(
            "barge_in",
            user_transcripts=("Tell me a long story.", "Stop, please."),
            turns=(
                Speak("Once upon a time there was a very long story that went on and on.", 5.0),
                Speak("All right, I will stop. You said: {transcript}"),
            ),
        ),
        Scenario(
            "error",
            error=_error("invalid_value", "Invalid value: 'session.audio'. Scripted failure."),
        ),
        Scenario(
            "close_mid_response",
            turns=(Speak("This answer will be cut off in the middle of a sentence.", 3.0),),
            close_after_deltas=3,
        ),
        Scenario("unauthorized", reject=Reject()),
        Scenario("stall", stall=True),
        Scenario("stall_mid_conversation", stall_after_turns=1),
    )
}
