"""The second wire format: Pipecat's protobuf frames carrying RTVI messages, as spoken by
`@pipecat-ai/client-js` with `@pipecat-ai/websocket-transport`.

Pipecat's own `ProtobufFrameSerializer` trusts its peer: garbage raises inside the transport,
audio at any rate goes into the pipeline unconverted, and a client may inject transcripts or
text frames as if the user had said them. This one accepts only what a client legitimately
sends (audio at a common rate, mono or stereo, converted to the pipeline's 24 kHz mono by
`audio_in.py`, and the RTVI client messages listed below) and turns everything else into a
protocol error.
The gateway's own messages (`contracts.browser`) travel as RTVI `server-message`s.
"""

import json
from typing import Any

from google.protobuf.message import DecodeError
from pipecat.frames.frames import (
    Frame,
    InputTransportMessageFrame,
    OutputAudioRawFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.frames.protobufs import frames_pb2
from pipecat.processors.frameworks.rtvi.models import MESSAGE_LABEL, ServerMessage
from pipecat.serializers.protobuf import ProtobufFrameSerializer
from pydantic import BaseModel, ValidationError

from contracts.browser import ClientStats, ErrorCode
from voice_gateway.transport.audio_in import AudioIn
from voice_gateway.transport.wire import ClientStatsFrame, ClientStop, GuardedSerializer

# What a voice client needs; the rest (client-side function results, files, UI events) would
# let a browser speak for the tools or the model.
ACCEPTED_RTVI_TYPES = frozenset({"client-ready", "client-message", "disconnect-bot", "send-text"})


def to_rtvi_client(message: BaseModel) -> OutputTransportMessageUrgentFrame:
    """A gateway message as an RTVI server-message (`onServerMessage` in client-js)."""
    envelope = ServerMessage(data=message.model_dump(mode="json"))
    return OutputTransportMessageUrgentFrame(message=envelope.model_dump(exclude_none=True))


class RTVIProtobufSerializer(GuardedSerializer):
    def __init__(self, **meters: Any) -> None:
        super().__init__(**meters)
        self._out = ProtobufFrameSerializer()  # what leaves is Pipecat's, byte for byte

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, OutputAudioRawFrame):
            self._audio_out(frame.audio)
        return await self._out.serialize(frame)

    def _decode(self, data: str | bytes) -> Frame | AudioIn | None:
        if isinstance(data, str):
            return self._error(
                ErrorCode.NOT_PROTOBUF, "this format takes binary protobuf frames only"
            )
        try:
            proto = frames_pb2.Frame.FromString(data)  # type: ignore[attr-defined]
        except (DecodeError, ValueError):
            return self._error(
                ErrorCode.INVALID_PROTOBUF, "the frame is not a Pipecat protobuf frame"
            )
        match proto.WhichOneof("frame"):
            case "audio":
                audio = proto.audio
                return AudioIn(audio.audio, audio.sample_rate, audio.num_channels)
            case "message":
                return self._message(proto.message.data)
            case None:
                return self._error(ErrorCode.INVALID_PROTOBUF, "the frame is empty")
            case other:
                return self._error(
                    ErrorCode.UNSUPPORTED_FRAME, f"clients may not send {other} frames"
                )

    def _message(self, data: str) -> Frame | None:
        try:
            message = json.loads(data)
        except ValueError:
            return self._error(ErrorCode.INVALID_JSON, "message frames must carry JSON objects")
        if not isinstance(message, dict) or message.get("label") != MESSAGE_LABEL:
            return self._error(
                ErrorCode.INVALID_MESSAGE, f"messages need the label {MESSAGE_LABEL!r}"
            )
        kind = message.get("type")
        if kind not in ACCEPTED_RTVI_TYPES:
            return self._error(ErrorCode.UNKNOWN_TYPE, f"unknown message type {str(kind)[:40]!r}")
        if kind == "disconnect-bot":  # the same orderly end as the raw format's `stop`
            return ClientStop()
        body = message.get("data")
        if kind == "client-message" and isinstance(body, dict) and body.get("t") == "client_stats":
            # `client.sendClientMessage("client_stats", stats)`: what the listener heard.
            sent = body.get("d")
            fields: dict[str, Any] = sent if isinstance(sent, dict) else {}
            try:
                stats = ClientStats.model_validate({**fields, "type": "client_stats"})
            except ValidationError as exc:
                return self.refused_stats(exc)
            return ClientStatsFrame(stats)
        return InputTransportMessageFrame(message=message)
