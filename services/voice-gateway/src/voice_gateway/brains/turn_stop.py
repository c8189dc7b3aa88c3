"""The local brain's end of turn: smart-turn's, held while the words are not over.

Why: smart-turn judges the end of a turn from the sound, and a speaker who pauses for half a
second after "Have the team" often sounds finished to it; the turn then ended at the pause
and the first half was answered (docs/benchmarks.md, false cut-offs). What was said can tell:
a sentence that stops on "to" or "the", or a hand-off with no task yet, is not over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

from voice_gateway.brains.unfinished import sounds_unfinished


class TranscriptAwareTurnStop(TurnAnalyzerUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Pipecat's smart-turn stop strategy that does not end a turn whose words are not over:
    they stop on a dangling word (brains/unfinished.py), or `also_unfinished` says so (a
    hand-off with no task yet; with the router, words it cannot route). It judges all the
    turn's transcripts joined ("Have the team." then "Summarise the notes." is a command), not
    only the last. The aggregator's stop timeout still ends the turn if the user says nothing
    more. Uses the strategy's public frame and turn hooks only."""

    def __init__(
        self, *, also_unfinished: Callable[[str], bool] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._also_unfinished = also_unfinished
        self._heard: list[str] = []  # this turn's transcripts, in order

    @property
    def heard(self) -> str:
        """The turn's transcripts so far, joined as the user aggregator joins them."""
        return " ".join(self._heard)

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard.append(frame.text.strip())
        return await super().process_frame(frame)

    async def handle_user_turn_started(self) -> None:
        self._heard.clear()
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]

    async def handle_user_turn_stopped(self) -> None:
        self._heard.clear()
        await super().handle_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        text = self.heard
        if sounds_unfinished(text) or (self._also_unfinished and self._also_unfinished(text)):
            return
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )
