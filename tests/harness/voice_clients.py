"""The two browser wire formats as a test client speaks them: the original raw format and
Pipecat's protobuf frames with RTVI messages (what `@pipecat-ai/client-js` sends)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pipecat.frames.protobufs import frames_pb2

SAMPLE_RATE = 24_000
Frame = str | bytes


@dataclass
class Decoded:
    audio: bytes | None = None
    message: dict[str, Any] | None = None  # a gateway message (`contracts.browser`)
    rtvi: dict[str, Any] | None = None  # a native RTVI message (bot-ready, transcripts...)
    interruption: bool = False  # the user spoke over the assistant: drop queued playback


@dataclass
class VoiceClient:
    format: Literal["raw", "rtvi"]
    _ids: int = field(default=0, repr=False)

    @property
    def query(self) -> str:
        return f"format={self.format}"

    def hello(self) -> list[Frame]:
        """What the client sends right after connecting."""
        if self.format == "raw":
            return []
        return [self._rtvi("client-ready", {"version": "1.0.0", "about": {"library": "tests"}})]

    def audio(self, pcm: bytes) -> Frame:
        if self.format == "raw":
            return pcm
        frame = frames_pb2.Frame()  # type: ignore[attr-defined]
        frame.audio.audio, frame.audio.sample_rate, frame.audio.num_channels = pcm, SAMPLE_RATE, 1
        return bytes(frame.SerializeToString())

    def stop(self) -> Frame:
        if self.format == "raw":
            return json.dumps({"type": "stop"})
        return self._rtvi("disconnect-bot")

    def decode(self, frame: Frame) -> Decoded:
        if self.format == "raw":
            if isinstance(frame, bytes):
                return Decoded(audio=frame)
            message = json.loads(frame)
            if message["type"] == "interruption":
                return Decoded(interruption=True)
            return Decoded(message=message)
        assert isinstance(frame, bytes), "the RTVI format sends binary frames only"
        proto = frames_pb2.Frame.FromString(frame)  # type: ignore[attr-defined]
        kind = proto.WhichOneof("frame")
        if kind == "audio":
            assert (proto.audio.sample_rate, proto.audio.num_channels) == (SAMPLE_RATE, 1)
            return Decoded(audio=proto.audio.audio)
        if kind == "interruption":
            return Decoded(interruption=True)
        assert kind == "message", f"unexpected {kind} frame"
        message = json.loads(proto.message.data)
        assert message["label"] == "rtvi-ai"
        if message["type"] == "server-message":
            return Decoded(message=message["data"])
        return Decoded(rtvi=message)

    def _rtvi(self, type_: str, data: dict[str, Any] | None = None) -> bytes:
        self._ids += 1
        message = {"label": "rtvi-ai", "type": type_, "id": f"m{self._ids}", "data": data}
        frame = frames_pb2.Frame()  # type: ignore[attr-defined]
        frame.message.data = json.dumps(message)
        return bytes(frame.SerializeToString())
