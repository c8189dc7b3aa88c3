"""The browser's wire formats, frame by frame: what both share, and the original raw format.

`RawPCMSerializer` speaks the original format: binary frames are PCM16 24 kHz mono audio both
ways, text frames are JSON messages (`contracts.browser`). The RTVI format is in `rtvi.py`.
Nothing a browser sends may crash the session: a bad frame becomes a `ClientProtocolError`
frame, which `ClientProtocol` (early in the pipeline) answers with an `error` message; pings
get a pong, `stop` ends the session.
"""

import json
import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    SystemFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pydantic import BaseModel, ValidationError

from contracts.browser import (
    CHANNELS,
    CLIENT_MESSAGE,
    SAMPLE_RATE,
    ClientStats,
    Error,
    ErrorCode,
    Interruption,
    Ping,
    Pong,
    Stop,
)
from voice_gateway.transport.admission import FrameRateLimiter
from voice_gateway.transport.audio_in import AudioIn, InputConverter, UnsupportedAudio

ERROR_EVERY_S = 1.0  # a flood of one bad frame gets one error a second, not one per frame


@dataclass
class ClientProtocolError(SystemFrame):
    """A frame from the browser that breaks the protocol."""

    code: ErrorCode
    message: str


@dataclass
class ClientPing(SystemFrame):
    ping_id: str | None


@dataclass
class ClientStop(SystemFrame):
    """The browser asked to end the session."""


@dataclass
class ClientStatsFrame(SystemFrame):
    """What the listener heard of one assistant turn (checked: `ClientStats`)."""

    stats: ClientStats


Envelope = Callable[[BaseModel], Frame]  # a server -> browser message as the format sends it


def to_client(message: BaseModel) -> OutputTransportMessageUrgentFrame:
    """A server -> browser JSON message (raw format), sent ahead of queued audio."""
    return OutputTransportMessageUrgentFrame(message=message.model_dump(mode="json"))


class GuardedSerializer(FrameSerializer):
    """What every format does to a browser's frames before decoding them: a rate limit, and
    protocol errors turned into frames (at most one a second of each kind)."""

    def __init__(
        self,
        *,
        max_frames_per_second: float,
        on_audio: Callable[[bytes], None] | None = None,
        on_audio_out: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__()
        # What is really written to the socket: audio the transport drops on an interruption
        # never gets here.
        self._on_audio_out = on_audio_out
        # Bursts of up to one second's worth: a browser catching up after a stall is fine.
        self._limiter = FrameRateLimiter(max_frames_per_second, burst=max_frames_per_second)
        self._last_error: dict[str, float] = {}
        self._on_audio = on_audio
        self._converter = InputConverter()

    def grant(self, frames: float) -> None:
        """Frames over the rate limit that may come at once (a resume's backlog)."""
        self._limiter.grant(frames)

    def _audio_out(self, pcm: bytes) -> None:
        if self._on_audio_out is not None:
            self._on_audio_out(pcm)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if not self._limiter.allow():
            return self._error(
                ErrorCode.RATE_LIMITED, "too many frames per second; some were dropped"
            )
        decoded = self._decode(data)
        if not isinstance(decoded, AudioIn):
            return decoded
        try:  # a format whose frames say their rate and channels (audio_in.py)
            pcm = await self._converter.to_pipeline(decoded)
        except UnsupportedAudio as exc:
            return self._error(exc.code, str(exc))
        return self._audio(pcm)

    @abstractmethod
    def _decode(self, data: str | bytes) -> Frame | AudioIn | None: ...

    def _audio(self, data: bytes) -> Frame | None:
        if len(data) % 2:
            return self._error(
                ErrorCode.ODD_LENGTH_AUDIO,
                f"audio frames must hold whole 16-bit samples; got {len(data)} bytes",
            )
        if not data:
            return None
        if self._on_audio is not None:
            self._on_audio(data)
        return InputAudioRawFrame(audio=data, sample_rate=SAMPLE_RATE, num_channels=CHANNELS)

    def refused_stats(self, error: ValidationError) -> Frame | None:
        """Client stats that cannot be true: refused with what is wrong, never stored."""
        first = error.errors()[0]
        loc = first["loc"]
        if loc and loc[0] == "client_stats":  # the tag of the raw format's message union
            loc = loc[1:]
        where = ".".join(str(part) for part in loc)
        reason = f"{where}: {first['msg']}" if where else first["msg"]
        return self._error(ErrorCode.INVALID_MESSAGE, f"client_stats refused: {reason}"[:200])

    def _error(self, code: ErrorCode, message: str) -> Frame | None:
        now = time.monotonic()
        if now - self._last_error.get(code, -ERROR_EVERY_S) < ERROR_EVERY_S:
            return None
        self._last_error[code] = now
        return ClientProtocolError(code=code, message=message)


class RawPCMSerializer(GuardedSerializer):
    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            self._audio_out(frame.audio)
            return frame.audio
        if isinstance(frame, InterruptionFrame):  # the browser must drop its queued playback
            return Interruption().model_dump_json()
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            if self.should_ignore_frame(frame):  # RTVI messages belong to the other format
                return None
            return json.dumps(frame.message)
        return None

    def _decode(self, data: str | bytes) -> Frame | None:
        if isinstance(data, bytes):
            return self._audio(data)
        return self._message(data)

    def _message(self, text: str) -> Frame | None:
        try:
            raw = json.loads(text)
        except ValueError:
            return self._error(ErrorCode.INVALID_JSON, "text frames must be JSON objects")
        try:
            message = CLIENT_MESSAGE.validate_python(raw)
        except ValidationError as exc:
            kind = raw.get("type") if isinstance(raw, dict) else None
            if isinstance(kind, str) and kind not in ("ping", "stop", "client_stats"):
                return self._error(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}")
            if kind == "client_stats":
                return self.refused_stats(exc)
            return self._error(
                ErrorCode.INVALID_MESSAGE, "messages need a known `type` and valid fields"
            )
        if isinstance(message, Ping):
            return ClientPing(ping_id=message.id)
        if isinstance(message, ClientStats):
            return ClientStatsFrame(stats=message)
        assert isinstance(message, Stop)
        return ClientStop()


class ClientProtocol(FrameProcessor):
    """Answers the browser's protocol frames; everything else passes through."""

    def __init__(
        self,
        *,
        on_stop: Callable[[], Awaitable[None]],
        envelope: Envelope = to_client,
        on_error: Callable[[ClientProtocolError], None] | None = None,
        on_stats: Callable[[ClientStats], Awaitable[None]] | None = None,
    ) -> None:
        # Direct mode: no queue of its own (see processors/taps.py).
        super().__init__(name="client-protocol", enable_direct_mode=True)
        self._on_stop = on_stop
        self._envelope = envelope
        self._on_error = on_error
        self._on_stats = on_stats

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ClientProtocolError):
            if self._on_error is not None:
                self._on_error(frame)
            await self.push_frame(self._envelope(Error(code=frame.code, message=frame.message)))
        elif isinstance(frame, ClientPing):
            await self.push_frame(self._envelope(Pong(id=frame.ping_id)))
        elif isinstance(frame, ClientStop):
            await self._on_stop()
        elif isinstance(frame, ClientStatsFrame):
            if self._on_stats is not None:
                await self._on_stats(frame.stats)
        else:
            await self.push_frame(frame, direction)
