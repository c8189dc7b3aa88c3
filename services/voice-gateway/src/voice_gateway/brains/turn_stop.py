"""The local brain's end of turn: smart-turn's, corrected by the words said so far.

Why: smart-turn judges the end of a turn from the sound alone, and it errs both ways.
- A speaker who pauses for half a second after "Have the team" often sounds finished to it:
  the turn ended at the pause and the first half was answered (docs/benchmarks.md, false
  cut-offs). A sentence that stops on "to" or "the", or a hand-off with no task yet, is not
  over: the turn waits.
- A flat voice saying "Stop the team." often sounds unfinished to it: the answer waited for the
  aggregator's stop timeout (1.2 s) although the command was whole. With the router, a whole
  command it can carry out, said and followed by silence, ends the turn when its transcript
  arrives (`also_finished`).
Either way the aggregator's stop timeout still ends a turn the user says nothing more in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

from voice_gateway.brains.unfinished import sounds_unfinished

Judge = Callable[[str], bool]


class TranscriptAwareTurnStop(TurnAnalyzerUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Pipecat's smart-turn stop strategy, with the words as a second opinion. It does not end
    a turn whose words stop on a dangling word (brains/unfinished.py) or that `also_unfinished`
    calls unfinished; it ends one that `also_finished` calls whole once the user is quiet,
    whatever smart-turn said. It judges all the turn's transcripts joined ("Have the team."
    then "Summarise the notes." is a command), not only the last. Uses the strategy's public
    frame, turn and trigger hooks only."""

    def __init__(
        self,
        *,
        also_unfinished: Judge | None = None,
        also_finished: Judge | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._also_unfinished = also_unfinished
        self._also_finished = also_finished
        self._heard: list[str] = []  # this turn's transcripts, in order
        self._speaking = False  # as the VAD last said
        self._ended = False  # this turn's end was announced

    @property
    def heard(self) -> str:
        """The turn's transcripts so far, joined as the user aggregator joins them."""
        return " ".join(self._heard)

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard.append(frame.text.strip())
        result = await super().process_frame(frame)
        if isinstance(frame, TranscriptionFrame) and self._words_say_finished():
            await self.trigger_user_turn_stopped()
        return result

    async def handle_user_turn_started(self) -> None:
        self._heard.clear()
        self._ended = False
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]

    async def handle_user_turn_stopped(self) -> None:
        self._heard.clear()
        await super().handle_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        if self._ended or self._words_say_unfinished():
            return
        self._ended = True
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )

    def _words_say_unfinished(self) -> bool:
        text, judge = self.heard, self._also_unfinished
        return sounds_unfinished(text) or (judge is not None and judge(text))

    def _words_say_finished(self) -> bool:
        """`also_finished` calls the words whole and the user is quiet; `trigger_user_turn_stopped`
        still refuses a turn already ended or whose words are unfinished."""
        judge, text = self._also_finished, self.heard
        return not self._speaking and judge is not None and bool(text) and judge(text)
