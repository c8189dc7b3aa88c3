"""The browser protocol of the voice endpoint (the original format): what each side may send.

Binary frames are raw PCM16, 24 kHz, mono, both ways. Text frames are JSON objects with a `type`.
Server -> browser messages are the models below; browser -> server messages are `ClientMessage`.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SAMPLE_RATE = 24_000
CHANNELS = 1
SAMPLE_WIDTH = 2  # bytes: PCM16
# Peak amplitude (of 32767) of a frame the user is taken to be speaking in, about -36 dBFS: room
# noise stays below it, speech does not. The gateway's turn clock and the client's ear clock
# both start from the last such frame, so mouth-to-ear and the gateway's `voice` latency measure
# from the same moment.
VOICED_PEAK = 500


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _ServerMessage(BaseModel):
    model_config = ConfigDict(frozen=True)
    timestamp: str = Field(default_factory=_now)


class Transcription(_ServerMessage):
    """What the user or the assistant said (unchanged since the protocol's first version)."""

    type: Literal["transcription"] = "transcription"
    text: str
    role: Literal["user", "assistant"]
    user_id: str = "user"
    final: bool = True
    # The user's words: which device spoke them (the session's own, or one that joined).
    device: str | None = None


class FunctionCall(_ServerMessage):
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: dict[str, Any]


class FunctionResult(_ServerMessage):
    type: Literal["function_result"] = "function_result"
    call_id: str
    name: str
    ok: bool
    result: str


class Progress(_ServerMessage):
    """A message from the team or Claude Code while they work (not spoken)."""

    type: Literal["progress"] = "progress"
    source: Literal["nested_agent", "claude_code"]
    event_type: str
    text: str
    finished: bool = False


class SessionState(_ServerMessage):
    """`started` (with what a resume needs), `resumed` (the answer to `ResumeRequest`, always a
    JSON text frame), `joined` (the answer to a device joining, likewise), `stopped` (with the
    end reason)."""

    type: Literal["session"] = "session"
    state: Literal["started", "resumed", "joined", "stopped"]
    session_id: str
    conversation_id: str
    reason: str | None = None
    # started: the secret a resume must show (never logged or stored), and how long after a
    # dropped connection the session waits for it.
    resume_key: str | None = None
    resume_s: float | None = None
    # resumed: frames of the client that reached the session (it sends the rest again), frames
    # sent again, and frames it missed that were no longer kept.
    received: int | None = None
    replayed: int | None = None
    skipped: int | None = None
    # started, joined: this connection's device; joined: whether it may speak.
    device: str | None = None
    role: Literal["speaker", "listener"] | None = None


class Floor(_ServerMessage):
    """Several devices share the session: who holds the floor (`device`), or None when it is
    free. Only the holder's microphone reaches the assistant."""

    type: Literal["floor"] = "floor"
    device: str | None


class ErrorCode(StrEnum):
    """The `code` of an `error` message (docs/protocol.md#errors)."""

    # The browser broke the protocol; the session goes on.
    ODD_LENGTH_AUDIO = "odd_length_audio"
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    RATE_LIMITED = "rate_limited"
    NOT_PROTOBUF = "not_protobuf"  # rtvi only, like the three below
    INVALID_PROTOBUF = "invalid_protobuf"
    UNSUPPORTED_FRAME = "unsupported_frame"
    UNSUPPORTED_AUDIO = "unsupported_audio"
    # The brain failed: its connection (fatal, the session ends) or one turn (it goes on).
    UPSTREAM_ERROR = "upstream_error"
    BRAIN_ERROR = "brain_error"


class Error(_ServerMessage):
    """Something went wrong; `fatal` errors end the session."""

    type: Literal["error"] = "error"
    code: str
    message: str
    fatal: bool = False


class Latency(_ServerMessage):
    type: Literal["latency"] = "latency"
    metric: str
    ms: float


class Speaking(_ServerMessage):
    """The assistant started or stopped speaking (its audio, as the gateway sends it)."""

    type: Literal["speaking"] = "speaking"
    role: Literal["assistant"] = "assistant"
    speaking: bool


class Interruption(_ServerMessage):
    """A user turn began (possibly over the assistant): drop the audio queued for playback now."""

    type: Literal["interruption"] = "interruption"


class Pong(_ServerMessage):
    type: Literal["pong"] = "pong"
    id: str | None = None


ServerMessage = (
    Transcription
    | FunctionCall
    | FunctionResult
    | Progress
    | SessionState
    | Floor
    | Error
    | Latency
    | Speaking
    | Interruption
    | Pong
)


class Ping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["ping"]
    id: Annotated[str, Field(max_length=64)] | None = None


class Stop(BaseModel):
    """The browser ends the session (the reason recorded is `client_closed`)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["stop"]


MAX_TURN_MS = 600_000.0  # ten minutes: no turn's audio is longer; beyond, the numbers are wrong


class ClientStats(BaseModel):
    """What the listener heard of one assistant turn, measured by the client where it plays.

    Sent once per turn, after its audio has played. The gateway exports it as histograms and
    stores it with the conversation's events; numbers that cannot be true are refused
    (`invalid_message`), never stored.
    """

    # JSON numbers only: no numeric strings, no booleans (strict), so a client's bug shows.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    type: Literal["client_stats"]
    # The user's last voiced microphone sample -> the turn's first assistant sample played;
    # None for a turn the user did not start (a greeting, a summary of a finished run).
    mouth_to_ear_ms: float | None = Field(default=None, ge=0, le=60_000)
    played_ms: float = Field(ge=0, le=MAX_TURN_MS)  # assistant audio played in this turn
    underruns: int = Field(ge=0, le=10_000)  # times the player ran dry inside the turn
    underrun_ms: float = Field(ge=0, le=MAX_TURN_MS)  # silence it inserted for them
    buffer_ms: float = Field(ge=0, le=10_000)  # the jitter buffer's depth at the turn's end

    @model_validator(mode="after")
    def _consistent(self) -> "ClientStats":
        if (self.underruns == 0) != (self.underrun_ms == 0):
            raise ValueError("underruns and underrun_ms must be zero together")
        if self.underrun_ms > self.played_ms + 60_000:
            raise ValueError("more silence inserted than a turn could hold")
        return self


class ResumeRequest(BaseModel):
    """The first frame (JSON text, in both wire formats) on a connection opened with
    `?resume=<session_id>`: carry that session on here. `received` counts every frame of the
    session the client has received, text and binary, on all its connections so far (the
    `resumed` answer not included)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["resume"]
    resume_key: Annotated[str, Field(min_length=16, max_length=128)]
    received: Annotated[int, Field(ge=0, le=2**53)]


ClientMessage = Annotated[Ping | Stop | ClientStats, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[Ping | Stop | ClientStats] = TypeAdapter(ClientMessage)
