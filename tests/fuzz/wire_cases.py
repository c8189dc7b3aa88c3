"""Hypothesis strategies for what a browser may send the voice endpoint, each frame paired with
what docs/protocol.md says must come of it (the oracle is the document, not the gateway's code).

A `Sent` frame either passes (no error), earns an `error` message with a documented code (and
the session goes on), or gets the socket closed with a documented close code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from hypothesis import strategies as st
from pipecat.frames.protobufs import frames_pb2

SAMPLE_RATE = 24_000
RTVI_LABEL = "rtvi-ai"
RTVI_ACCEPTED = ("client-ready", "client-message", "send-text")  # disconnect-bot ends it
CLOSE_TOO_BIG = 1009
# RFC 6455: a text frame that is not UTF-8 fails the connection with 1007, before any
# application code sees it (docs/protocol.md does not list it yet).
CLOSE_INVALID_UTF8 = 1007


@dataclass(frozen=True)
class Sent:
    """One frame and its documented outcome."""

    data: bytes | str
    text_opcode: bool = False  # send `data` (bytes) as a text frame: invalid UTF-8
    error: str | None = None  # the `error` code it earns, if any
    closes: int | None = None  # the close code it earns, if any

    def __repr__(self) -> str:  # hypothesis prints failing examples with it
        shown = self.data if len(self.data) <= 80 else self.data[:80]
        more = f"...({len(self.data)})" if len(self.data) > 80 else ""
        return f"Sent({shown!r}{more}, text={self.text_opcode}, {self.error or self.closes})"


# --- shared --------------------------------------------------------------------------------


def _invalid_utf8() -> st.SearchStrategy[Sent]:
    def not_utf8(data: bytes) -> bool:
        try:
            data.decode()
        except UnicodeDecodeError:
            return True
        return False

    raw = st.binary(min_size=1, max_size=64).filter(not_utf8)
    return raw.map(lambda b: Sent(b, text_opcode=True, closes=CLOSE_INVALID_UTF8))


def _oversized(max_frame: int, *, text: bool) -> st.SearchStrategy[Sent]:
    sizes = st.integers(max_frame + 1, max_frame * 3)
    if text:
        return sizes.map(lambda n: Sent("x" * n, closes=CLOSE_TOO_BIG))
    return sizes.map(lambda n: Sent(bytes(n), closes=CLOSE_TOO_BIG))


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )


# --- client stats (both formats) ------------------------------------------------------------

# docs/protocol.md, `client_stats`: each field's range; all but mouth_to_ear_ms required.
STATS_RANGES = {
    "played_ms": (0, 600_000),
    "underrun_ms": (0, 600_000),
    "buffer_ms": (0, 10_000),
    "mouth_to_ear_ms": (0, 60_000),
}
STATS_REQUIRED = {"played_ms", "underruns", "underrun_ms", "buffer_ms"}


def _number_in(value: Any, low: float, high: float) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and low <= value <= high


def client_stats_ok(fields: dict[str, Any]) -> bool:
    """Whether the documented rules take these `client_stats` fields (without `type`)."""
    if not STATS_REQUIRED <= set(fields) <= {*STATS_REQUIRED, "mouth_to_ear_ms"}:
        return False
    if not all(_number_in(fields[k], *STATS_RANGES[k]) for k in STATS_REQUIRED - {"underruns"}):
        return False
    mouth_to_ear = fields.get("mouth_to_ear_ms")
    if mouth_to_ear is not None and not _number_in(mouth_to_ear, *STATS_RANGES["mouth_to_ear_ms"]):
        return False
    underruns = fields["underruns"]
    if not (isinstance(underruns, int) and not isinstance(underruns, bool)):
        return False
    if not 0 <= underruns <= 10_000 or (underruns == 0) != (fields["underrun_ms"] == 0):
        return False
    return bool(fields["underrun_ms"] <= fields["played_ms"] + 60_000)


def _client_stats() -> st.SearchStrategy[dict[str, Any]]:
    """Mostly plausible stats, with lies, junk, missing and extra fields mixed in."""
    number = st.integers(0, 5_000) | st.floats(0, 5_000)
    junk = st.sampled_from([-1, 1e12, True, "12", None, float("nan")])
    value = number | number | junk
    return st.fixed_dictionaries(
        {"played_ms": value, "underruns": st.integers(0, 3) | junk, "underrun_ms": value,
         "buffer_ms": value},
        optional={"mouth_to_ear_ms": value, "listener": st.text(max_size=5)},
    )  # fmt: skip


# --- the raw format ------------------------------------------------------------------------


def raw_message_outcome(text: str) -> str | None:
    """The documented answer to a text frame in the raw format (None: accepted)."""
    try:
        message = json.loads(text)
    except ValueError:
        return "invalid_json"
    if not isinstance(message, dict):
        return "invalid_message"
    kind = message.get("type")
    if isinstance(kind, str) and kind not in ("ping", "stop", "client_stats"):
        return "unknown_type"
    if kind == "client_stats":
        fields = {k: v for k, v in message.items() if k != "type"}
        return None if client_stats_ok(fields) else "invalid_message"
    if kind == "ping" and set(message) <= {"type", "id"}:
        ping_id = message.get("id")
        if ping_id is None or (isinstance(ping_id, str) and len(ping_id) <= 64):
            return None
    return "invalid_message"


def _raw_json_messages() -> st.SearchStrategy[str]:
    kinds = st.sampled_from(["ping", "stop", "dance", "", "PING"]) | st.text(max_size=20)
    fields = st.dictionaries(st.sampled_from(["id", "data", "x"]), _json_values(), max_size=2)
    typed = st.builds(lambda k, f: json.dumps({**f, "type": k}), kinds, fields)
    untyped = _json_values().map(json.dumps)
    wrong_type = _json_values().map(lambda v: json.dumps({"type": v}))
    stats = _client_stats().map(lambda f: json.dumps({"type": "client_stats", **f}))
    return typed | untyped | wrong_type | stats


def _is_stop(text: str) -> bool:
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return bool(message == {"type": "stop"})


def raw_frames(max_frame: int) -> st.SearchStrategy[Sent]:
    """Every kind of frame a raw-format client could send (but `stop`, which ends it)."""
    audio = st.integers(0, max_frame).map(
        lambda n: Sent(bytes(n), error="odd_length_audio" if n % 2 else None)
    )
    random_audio = st.binary(max_size=512).map(
        lambda b: Sent(b, error="odd_length_audio" if len(b) % 2 else None)
    )
    texts = (st.text(max_size=200) | _raw_json_messages()).filter(lambda t: not _is_stop(t))

    def message(text: str) -> Sent:
        if len(text.encode()) > max_frame:
            return Sent(text, closes=CLOSE_TOO_BIG)
        return Sent(text, error=raw_message_outcome(text))

    messages = texts.map(message)
    return (
        audio
        | random_audio
        | messages
        | _invalid_utf8()
        | _oversized(max_frame, text=False)
        | _oversized(max_frame, text=True)
    )


# --- the rtvi format -----------------------------------------------------------------------

# The rates docs/protocol.md lists for a client's audio (mono or stereo).
RTVI_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


def rtvi_message_outcome(data: str) -> str | None:
    try:
        message = json.loads(data)
    except ValueError:
        return "invalid_json"
    if not isinstance(message, dict) or message.get("label") != RTVI_LABEL:
        return "invalid_message"
    if message.get("type") not in RTVI_ACCEPTED:
        return "unknown_type"
    data = message.get("data")
    stats = isinstance(data, dict) and data.get("t") == "client_stats"
    if message["type"] == "client-message" and stats:
        fields = data.get("d")
        ok = client_stats_ok(fields if isinstance(fields, dict) else {})
        return None if ok else "invalid_message"
    return None


def rtvi_outcome(data: bytes) -> str | None:
    """The documented answer to a binary frame in the rtvi format (None: accepted)."""
    try:
        frame = frames_pb2.Frame.FromString(data)  # type: ignore[attr-defined]
    except (DecodeError, ValueError):
        return "invalid_protobuf"
    match frame.WhichOneof("frame"):
        case None:
            return "invalid_protobuf"
        case "audio":
            channels = frame.audio.num_channels
            if frame.audio.sample_rate not in RTVI_RATES or channels not in (1, 2):
                return "unsupported_audio"
            return "odd_length_audio" if len(frame.audio.audio) % (2 * channels) else None
        case "message":
            return rtvi_message_outcome(frame.message.data)
        case _:
            return "unsupported_frame"


def _proto(build: Any) -> bytes:
    frame = frames_pb2.Frame()  # type: ignore[attr-defined]
    build(frame)
    return bytes(frame.SerializeToString())


def _audio_frame(pcm: bytes, rate: int, channels: int) -> bytes:
    def build(frame: Any) -> None:
        frame.audio.audio, frame.audio.sample_rate, frame.audio.num_channels = pcm, rate, channels

    return _proto(build)


def _message_frame(data: str) -> bytes:
    def build(frame: Any) -> None:
        frame.message.data = data

    return _proto(build)


def _other_frame(kind: str, text: str) -> bytes:
    def build(frame: Any) -> None:
        if kind == "interruption":
            frame.interruption.name = text
        else:
            getattr(frame, kind).text = text

    return _proto(build)


def _rtvi_messages() -> st.SearchStrategy[str]:
    kinds = st.sampled_from([*RTVI_ACCEPTED, "llm-function-call-result", "send-file", "ui-event"])
    labels = st.sampled_from([RTVI_LABEL] * 3 + ["rtvi", ""]) | st.none()
    envelope = st.builds(
        lambda kind, label, data: json.dumps(
            {"label": label, "type": kind, "id": "f", "data": data}
        ),
        kinds | st.text(max_size=20),
        labels,
        _json_values(),
    )
    stats = _client_stats().map(
        lambda f: json.dumps(
            {"label": RTVI_LABEL, "type": "client-message", "id": "s",
             "data": {"t": "client_stats", "d": f}}
        )
    )  # fmt: skip
    return envelope | stats | _json_values().map(json.dumps) | st.text(max_size=100)


def _not_disconnect(data: bytes) -> bool:
    try:
        frame = frames_pb2.Frame.FromString(data)  # type: ignore[attr-defined]
        return bool(
            frame.WhichOneof("frame") != "message"
            or json.loads(frame.message.data).get("type") != "disconnect-bot"
        )
    except Exception:  # undecodable: not a disconnect either
        return True


def rtvi_frames(max_frame: int) -> st.SearchStrategy[Sent]:
    """Every kind of frame an rtvi client could send (but `disconnect-bot`, which ends it)."""
    # Mostly an accepted rate and channel count, so odd lengths and good audio get reached too.
    rates = st.sampled_from([*sorted(RTVI_RATES), 7_999, 96_000, 0]) | st.integers(0, 2**32 - 1)
    channels = st.sampled_from([1] * 4 + [2, 0]) | st.integers(0, 2**32 - 1)
    pcm = st.binary(max_size=400) | st.integers(0, max_frame // 2).map(bytes)
    audio = st.builds(_audio_frame, pcm, rates, channels)
    messages = _rtvi_messages().map(_message_frame)
    others = st.builds(
        _other_frame, st.sampled_from(["text", "transcription", "interruption"]), st.text()
    )
    binary = (audio | messages | others | st.binary(max_size=300)).filter(
        lambda b: len(b) <= max_frame and _not_disconnect(b)
    )
    texts = st.text(max_size=100).map(lambda t: Sent(t, error="not_protobuf"))
    return (
        binary.map(lambda b: Sent(b, error=rtvi_outcome(b)))
        | texts
        | _invalid_utf8()
        | _oversized(max_frame, text=False)
    )
