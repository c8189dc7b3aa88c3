"""A client's microphone audio, at whatever common rate and channel count it sends, made into
the pipeline's 24 kHz mono.

Pipecat's client SDKs send what the browser's microphone gives them: `@pipecat-ai/client-js`
with the WebSocket transport sends 16 kHz mono by default, other clients 8, 44.1 or 48 kHz, some
stereo. Pipecat's input transport does not resample, so each connection's audio is converted
here, before it enters the pipeline: stereo is averaged to mono, and the rate converted with one
streaming resampler per connection (Pipecat's soxr stream, so the audio stays continuous across
frames). A rate outside the accepted set, or a frame that cannot hold whole samples of the
stated layout, is a clear protocol error, never silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pipecat.audio.resamplers.base_audio_resampler import BaseAudioResampler
from pipecat.audio.utils import create_stream_resampler

from contracts.browser import SAMPLE_RATE, ErrorCode

# soxr's "HQ" holds back 9-32 ms of audio across these rates ("VHQ", Pipecat's default, up to
# 38 ms): each millisecond held is one more before the end of the user's turn is heard.
QUALITY = "HQ"
MAX_HELD_MS = 40

# Every rate a browser's audio stack or a telephony client commonly produces.
ACCEPTED_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
ACCEPTED_CHANNELS = (1, 2)


class UnsupportedAudio(ValueError):
    """Audio this gateway cannot take, with the reason a client can act on."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class AudioIn:
    """One frame of a client's microphone audio, as the client described it."""

    pcm: bytes
    sample_rate: int
    channels: int


class InputConverter:
    """One connection's audio, converted frame by frame to 24 kHz mono PCM16."""

    def __init__(self) -> None:
        # Made when a client first sends another rate than 24 kHz: most never do.
        self._resampler: BaseAudioResampler | None = None
        self._rate: int | None = None

    @staticmethod
    def check(audio: AudioIn) -> None:
        """Raise `UnsupportedAudio` for a layout this gateway does not take."""
        if audio.sample_rate not in ACCEPTED_RATES or audio.channels not in ACCEPTED_CHANNELS:
            rates = ", ".join(str(rate) for rate in ACCEPTED_RATES)
            raise UnsupportedAudio(
                ErrorCode.UNSUPPORTED_AUDIO,
                f"audio must be mono or stereo PCM16 at {rates} Hz; got {audio.sample_rate} Hz "
                f"with {audio.channels} channels",
            )
        if len(audio.pcm) % (2 * audio.channels):
            raise UnsupportedAudio(
                ErrorCode.ODD_LENGTH_AUDIO,
                f"audio frames must hold whole 16-bit samples for {audio.channels} channel(s); "
                f"got {len(audio.pcm)} bytes",
            )

    async def to_pipeline(self, audio: AudioIn) -> bytes:
        """The frame as 24 kHz mono PCM16 (checked first: see `check`)."""
        self.check(audio)
        pcm = audio.pcm
        if audio.channels == 2:
            stereo = np.frombuffer(pcm, dtype=np.int16).reshape(-1, 2).astype(np.int32)
            pcm = (stereo.sum(axis=1) // 2).astype(np.int16).tobytes()
        if audio.sample_rate == SAMPLE_RATE:
            return pcm
        if self._resampler is None or self._rate != audio.sample_rate:
            # A client that changes rate starts a new stream.
            self._resampler = create_stream_resampler(quality=QUALITY)
            self._rate = audio.sample_rate
        return await self._resampler.resample(pcm, audio.sample_rate, SAMPLE_RATE)
