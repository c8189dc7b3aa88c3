"""Piper speech for the local brain: one voice per process, speaking clause by clause.

Pipecat's `PiperTTSService` loads its voice in its constructor (0.55 s and about 100 MB for
every session). `PiperSpeech` is a plain `TTSService` (Pipecat's public base for speech
services) handed the process's loaded voice instead; onnxruntime serves concurrent calls.

Piper synthesises a sentence at a time, and a TTS service normally waits for a sentence's end
before it speaks: the first sentence of a long reply had to be synthesised whole (about 1.7 s
under load) before any audio left. `ClauseChunker`, placed in front of the speech service, hands
it the first clause as soon as it is complete, then whole sentences, so the listener hears the
start of the reply while the rest is still being made; the service takes each piece as it comes
(`TextAggregationMode.TOKEN`).

The same pieces come back again and again (the command router's replies, the tool results'
sentences, "I've handed that to the team."): a small cache shared by the process's sessions
(`SpokenCache`) keeps the audio of recent short pieces, so a repeated one starts at once instead
of after its synthesis (0.1 to 0.4 s of CPU for a short sentence).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TextAggregationMode, TTSService
from pipecat.utils.string import match_endofsentence

# A clause ends at one of these followed by a space; the first piece must hold this many words
# (a lone "Well," or "Sure," is too short to sound natural on its own).
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014](?=\s)")
FIRST_CLAUSE_MIN_WORDS = 3


def load_voice(model: Path) -> Any:
    """A Piper voice whose ONNX session gives memory back after each sentence.

    onnxruntime's default arena keeps, for the life of the session, as much memory as the most
    sentences ever synthesised at once needed (a long sentence's decoder needs hundreds of MB):
    after a burst of sessions the gateway never shrank again. Without the arena each run's
    large buffers are returned to the system when it ends, at no measurable cost in speed."""
    import onnxruntime as ort
    from piper import PiperConfig, PiperVoice

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    return PiperVoice(
        config=PiperConfig.from_dict(config),
        session=ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        ),
    )


class SpokenCache:
    """The audio of recently spoken short pieces, least recently used dropped first."""

    MAX_PIECES = 64
    MAX_CHARS = 160  # a sentence or a clause; longer pieces are rarely said twice

    def __init__(self) -> None:
        self._audio: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.hits = 0

    def get(self, voice: str, text: str) -> bytes | None:
        audio = self._audio.get((voice, text))
        if audio is not None:
            self._audio.move_to_end((voice, text))
            self.hits += 1
        return audio

    def put(self, voice: str, text: str, audio: bytes) -> None:
        if len(text) > self.MAX_CHARS or not audio:
            return
        self._audio[(voice, text)] = audio
        self._audio.move_to_end((voice, text))
        while len(self._audio) > self.MAX_PIECES:
            self._audio.popitem(last=False)


SPOKEN = SpokenCache()  # one per process, like the voice


class PiperSpeech(TTSService):
    """Speech from a Piper voice loaded once per process (`synthesis` options fixed per call:
    noise scales at 0 make the same text the same audio, for reproducible tests)."""

    def __init__(
        self,
        voice: Any,
        *,
        voice_name: str,
        deterministic: bool,
        cache: SpokenCache | None = SPOKEN,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            text_aggregation_mode=TextAggregationMode.TOKEN,  # ClauseChunker does the cutting
            settings=TTSSettings(model=None, voice=voice_name, language=None),
            **kwargs,
        )
        from piper import SynthesisConfig

        self._voice = voice
        self._voice_key = f"{voice_name}:{'deterministic' if deterministic else 'natural'}"
        self._synthesis = SynthesisConfig(noise_scale=0, noise_w_scale=0) if deterministic else None
        self._cache = cache

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        key = text.strip()
        try:
            await self.start_tts_usage_metrics(text)
            cached = self._cache.get(self._voice_key, key) if self._cache is not None else None
            spoken: list[bytes] = []
            if cached is not None:
                audio: AsyncIterator[bytes] = _once(cached)
            else:
                chunks = self._voice.synthesize(text, syn_config=self._synthesis)
                audio = _kept(_in_thread(iter(chunks)), spoken)
            async for frame in self._stream_audio_frames_from_iterator(
                audio, in_sample_rate=self._voice.config.sample_rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
            if cached is None and self._cache is not None:  # spoken whole: not interrupted
                self._cache.put(self._voice_key, key, b"".join(spoken))
        except Exception as exc:  # the turn fails, the session goes on
            yield ErrorFrame(error=f"Piper could not speak: {exc}")
        finally:
            await self.stop_ttfb_metrics()


async def _once(audio: bytes) -> AsyncIterator[bytes]:
    yield audio


async def _kept(audio: AsyncIterator[bytes], into: list[bytes]) -> AsyncIterator[bytes]:
    """`audio`, each chunk also appended to `into`."""
    async for chunk in audio:
        into.append(chunk)
        yield chunk


async def _in_thread(chunks: Iterator[Any]) -> AsyncIterator[bytes]:
    """Each sentence synthesised off the event loop (about 0.1 s of CPU per second of audio)."""
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk.audio_int16_bytes


class ClauseChunker(FrameProcessor):
    """Cuts a reply's text into what is spoken at once: the first clause as soon as it ends,
    then whole sentences; whatever is left when the reply ends. An interruption drops what
    was not yet handed on."""

    def __init__(self) -> None:
        super().__init__(name="clause-chunker")
        self._pending = ""
        self._first = True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame) and direction is FrameDirection.DOWNSTREAM:
            self._pending += frame.text
            for piece in self._ready_pieces():
                await self.push_frame(LLMTextFrame(piece), direction)
            return
        if isinstance(frame, LLMFullResponseStartFrame | InterruptionFrame):
            self._pending, self._first = "", True
        elif isinstance(frame, LLMFullResponseEndFrame) and self._pending.strip():
            await self.push_frame(LLMTextFrame(self._pending), direction)
            self._pending = ""
        await self.push_frame(frame, direction)

    def _ready_pieces(self) -> list[str]:
        pieces = []
        while (end := self._next_end()) is not None:
            pieces.append(self._pending[:end])
            self._pending, self._first = self._pending[end:], False
        return pieces

    def _next_end(self) -> int | None:
        """Where the next piece ends in the pending text (None: not yet known)."""
        if self._first:
            for match in _CLAUSE_END.finditer(self._pending):
                if len(self._pending[: match.end()].split()) >= FIRST_CLAUSE_MIN_WORDS:
                    return match.end()
        # A sentence's end is certain only once the next word has begun ("Dr. Smith").
        end = match_endofsentence(self._pending)
        if end and self._pending[end:].strip():
            return end
        return None
