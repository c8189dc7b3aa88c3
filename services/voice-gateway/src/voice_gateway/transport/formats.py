"""The two wire formats a browser may choose per connection (`?format=raw|rtvi`); both reach
the same pipeline."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from voice_gateway.transport.rtvi import RTVIProtobufSerializer, to_rtvi_client
from voice_gateway.transport.wire import Envelope, GuardedSerializer, RawPCMSerializer, to_client

FormatName = Literal["raw", "rtvi"]


@dataclass(frozen=True)
class WireFormat:
    name: FormatName
    serializer_class: type[GuardedSerializer]
    envelope: Envelope
    # Pipecat's RTVI processor and observer: client-ready/bot-ready, transcripts, speaking
    # events. Only the RTVI format has a reader for them.
    rtvi: bool

    def serializer(
        self,
        max_frames_per_second: float,
        on_audio: Callable[[bytes], None] | None = None,
        on_audio_out: Callable[[bytes], None] | None = None,
    ) -> GuardedSerializer:
        return self.serializer_class(
            max_frames_per_second=max_frames_per_second,
            on_audio=on_audio,
            on_audio_out=on_audio_out,
        )


FORMATS: dict[FormatName, WireFormat] = {
    "raw": WireFormat("raw", RawPCMSerializer, to_client, rtvi=False),
    "rtvi": WireFormat("rtvi", RTVIProtobufSerializer, to_rtvi_client, rtvi=True),
}
