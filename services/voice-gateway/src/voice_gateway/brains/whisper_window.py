"""Whisper on a window the size of the utterance, not 30 seconds.

Why: Whisper was trained on 30 s windows, and faster-whisper pads every clip to one, so a
one-second command costs the encoder as much as half a minute of speech: 0.4 s on a quiet 2-core
CPU, 0.85 s on a busy one, all of it after the user has stopped. CTranslate2's encoder takes a
shorter input; a window of the speech plus a second of silence encodes in a tenth of the time.

What it costs, and how it is paid back: on a window shorter than 30 s, Whisper does not see
where its window "ends" and, having said the sentence, often says it again ("Stop the team. Stop
the team. Stop..."). Two guards, both measured on the benchmark's utterances (Piper and espeak
voices; see docs/benchmarks.md):
- the decode is bounded by the audio's length (`max_tokens`): at most `TOKENS_PER_S` per second
  of audio, far above speech (3 to 4 tokens a second), so a runaway repeat cannot cost seconds;
- a transcript that is one phrase said again and again is cut to the phrase (`without_repeats`).
  Only a phrase of two different words or more, or a sentence ending in . ? or !, repeated
  exactly counts: a user who says "stop, stop, stop" keeps every word.
Clips longer than `MAX_WINDOW_S` go to faster-whisper's own 30 s windows, unchanged.

Whether a clip held speech is read from the no-speech token and how sure the words are
(`spoken_chance`), as Whisper itself does, not from the token alone: Pipecat drops a segment
whose no-speech probability is 0.4 or more, and short phrases said after a second of lead-in
("Ask Claude to" before a pause) score 0.5 while transcribed word for word, so the first half
of a paused sentence vanished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
HOP = 160  # samples per mel frame: 100 frames a second
PAD_S = 1.0  # silence after the clip: the last word's tail, and room for Whisper to end
MAX_WINDOW_S = 29.0  # beyond this, Whisper's own 30 s windows (the encoder's limit is 30 s)
TOKENS_PER_S = 6
MIN_TOKENS = 8
SENTENCE_ENDS = (".", "?", "!")
CONFIDENT_LOGPROB = -1.0  # Whisper's log_prob_threshold: above it, the words are trusted
NO_SPEECH_THRESHOLD = 0.6  # Whisper's no_speech_threshold: above it, no speech, however sure


@dataclass(frozen=True)
class Segment:
    """What Pipecat's Whisper service reads from a faster-whisper segment."""

    text: str
    no_speech_prob: float


def spoken_chance(no_speech_prob: float, avg_logprob: float) -> float:
    """The no-speech probability Pipecat's filter (0.4) should see. Whisper's own, unless the
    words were decoded confidently (average log probability above `CONFIDENT_LOGPROB`) and the
    no-speech token is below Whisper's own threshold: then 0, speech. Measured (docs/
    benchmarks.md): short phrases after a lead-in score 0.4-0.55 with words at -0.25 to -0.65;
    silence decodes " you" at -0.9 but scores 0.98; hum and clicks score 0.6-0.9 with words
    at -1.5 to -2. Those stay dropped."""
    if no_speech_prob < NO_SPEECH_THRESHOLD and avg_logprob > CONFIDENT_LOGPROB:
        return 0.0
    return no_speech_prob


def max_tokens(seconds: float) -> int:
    return MIN_TOKENS + math.ceil(TOKENS_PER_S * seconds)


def without_repeats(tokens: list[int], decode: Any) -> list[int]:
    """The tokens, or their first phrase when the rest only repeats it (a runaway decode:
    `p` tokens, then the same `p` again, possibly cut short by the length bound)."""
    for period in range(1, len(tokens)):
        unit = tokens[:period]
        text = decode(unit).strip()
        different_words = {word.strip(",.?!").lower() for word in text.split()}
        if not (text.endswith(SENTENCE_ENDS) or len(different_words) >= 2):
            continue
        rest = tokens[period:]
        if all(token == unit[i % period] for i, token in enumerate(rest)):
            return unit
    return tokens


class WindowedWhisper:
    """A faster-whisper model that decodes short clips on a window their size, at temperature 0,
    and long ones as faster-whisper does (at temperature 0 too: its fallback through five higher
    temperatures decodes a phrase six times and makes the result differ from run to run)."""

    def __init__(self, model: Any, *, windowed: bool = True, beam_size: int = 5) -> None:
        self._model = model
        self._windowed = windowed  # False: every clip on a 30 s window (WHISPER_WINDOW=full)
        self._beam_size = beam_size
        self._tokenizers: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def transcribe(
        self,
        audio: np.ndarray,
        language: str | None = None,
        initial_prompt: str | None = None,
        **options: Any,
    ) -> tuple[list[Segment], Any]:
        seconds = len(audio) / SAMPLE_RATE
        if not self._windowed or seconds + PAD_S > MAX_WINDOW_S or options.get("hotwords"):
            segments, info = self._model.transcribe(
                audio,
                language=language,
                initial_prompt=initial_prompt,
                temperature=0.0,
                **{"beam_size": self._beam_size, **options},
            )
            # The same speech rule as the short path, so one threshold decides for both.
            heard = [
                Segment(s.text, spoken_chance(s.no_speech_prob, s.avg_logprob)) for s in segments
            ]
            return heard, info
        return [self._decode_window(audio, language or "en", initial_prompt)], None

    def _decode_window(self, audio: np.ndarray, language: str, prompt: str | None) -> Segment:
        import ctranslate2

        frames = math.ceil((len(audio) / SAMPLE_RATE + PAD_S) * SAMPLE_RATE / HOP)
        padded = np.pad(audio.astype(np.float32), (0, frames * HOP - len(audio)))
        features = self._model.feature_extractor(padded, padding=0)[:, :frames]
        tokenizer = self._tokenizer(language)
        sequence = self._prompt(tokenizer, prompt)
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            [sequence],
            beam_size=self._beam_size,
            max_length=len(sequence) + max_tokens(len(audio) / SAMPLE_RATE),
            suppress_blank=True,
            suppress_tokens=[-1],  # the model's own list of non-speech symbols
            return_no_speech_prob=True,
            return_scores=True,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(without_repeats(tokens, tokenizer.decode))
        # CTranslate2's score is the mean log probability per token; Whisper's average counts
        # the end token too (as faster-whisper computes it).
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1)
        return Segment(text, spoken_chance(float(result.no_speech_prob), avg_logprob))

    def _tokenizer(self, language: str) -> Any:
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer

            multilingual = self._model.model.is_multilingual
            self._tokenizers[language] = Tokenizer(
                self._model.hf_tokenizer,
                multilingual,
                task="transcribe",
                language=language if multilingual else "en",
            )
        return self._tokenizers[language]

    @staticmethod
    def _prompt(tokenizer: Any, prompt: str | None) -> list[int]:
        """faster-whisper's prompt: the previous text (the vocabulary hint), the start of the
        transcript, and "no timestamps" (timestamps cost tokens and nothing reads them)."""
        previous = []
        if prompt:
            previous = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())[-223:]]
        return [*previous, *tokenizer.sot_sequence, tokenizer.no_timestamps]
