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

With `speculate` (the LLM path), the model does not wait for the turn's end to start: when the
user is quiet and the words so far are not unfinished (Whisper's early transcript at the first
short pause, or a transcript of a turn smart-turn has not ended yet) the strategy starts a
speculative answer on them through Pipecat's speculation hooks. The LLM service holds whatever
that answer says (Pipecat's `SpeculationGate`, and `adapters/pipecat_llm.py` for its tool calls)
until the turn ends. The turn's end confirms it when the words are still the same, and withdraws
it when they are not, when the user speaks again, or when the turn ends some other way: then
the model answers the turn's words as if nothing had been started. Speaking late never gets
the answer to the first half.

An answer started early matters most on a turn smart-turn calls unfinished although its words
are whole (a flat "Stop the team."): it waits for the aggregator's stop timeout. So the strategy
ends such a turn itself, confirming the answer, `BEFORE_STOP_TIMEOUT_S` before that timeout
would end it and start the model only then. The turn ends when it always did; the answer is
ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    EagerTranscriptionFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation
from pipecat.turns.user_stop import NormalizedMatch, TurnAnalyzerUserTurnStopStrategy

from voice_gateway.brains.unfinished import sounds_unfinished
from voice_gateway.metrics import SPECULATIVE_ANSWERS

Judge = Callable[[str], bool]

# How much sooner than the aggregator's stop timeout a quiet turn with an answer under way is
# ended here: enough for the event loop to run this timer first, too little for anyone to hear.
BEFORE_STOP_TIMEOUT_S = 0.05


class TranscriptAwareTurnStop(TurnAnalyzerUserTurnStopStrategy):  # type: ignore[no-untyped-call]
    """Pipecat's smart-turn stop strategy, with the words as a second opinion. It does not end
    a turn whose words stop on a dangling word (brains/unfinished.py) or that `also_unfinished`
    calls unfinished; it ends one that `also_finished` calls whole once the user is quiet,
    whatever smart-turn said. It judges all the turn's transcripts joined ("Have the team."
    then "Summarise the notes." is a command), not only the last. With `speculate` it starts
    the answer early (the module's docstring says how). Uses the strategy's public frame,
    turn, trigger and speculation hooks only."""

    def __init__(
        self,
        *,
        also_unfinished: Judge | None = None,
        also_finished: Judge | None = None,
        speculate: bool = False,
        stop_timeout_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        """`stop_timeout_s`: the aggregator's stop timeout, when speculating (the module's
        docstring says why)."""
        super().__init__(**kwargs)
        self._also_unfinished = also_unfinished
        self._also_finished = also_finished
        self._speculate = speculate
        self._quiet_end_s = (
            None if stop_timeout_s is None else stop_timeout_s - BEFORE_STOP_TIMEOUT_S
        )
        self._quiet_timer: asyncio.Task[None] | None = None
        self._heard: list[str] = []  # this turn's transcripts, in order
        self._speaking = False  # as the VAD last said
        self._ended = False  # this turn's end was announced
        self._speculation: UserTurnSpeculation | None = None  # the answer started early
        self._same_words = NormalizedMatch()  # blind to case and punctuation Whisper varies

    @property
    def answer_under_way(self) -> bool:
        """An answer was started early on this turn's words and is neither confirmed nor
        withdrawn yet; only then does the quiet timer end a turn."""
        return self._speculation is not None

    @property
    def heard(self) -> str:
        """The turn's transcripts so far, joined as the user aggregator joins them."""
        return " ".join(self._heard)

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            await self._withdraw()  # the user went on: the early answer answers a half
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speaking = False
            await self._rearm()  # the aggregator's stop timeout starts again here too
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard.append(frame.text.strip())
            await self._rearm()
        elif isinstance(frame, EagerTranscriptionFrame) and frame.text.strip():
            # Whisper's transcript at a short pause, the VAD still calling it speech.
            await self._maybe_speculate(" ".join([*self._heard, frame.text.strip()]))
        elif isinstance(frame, EagerEndOfTurnCancelFrame):
            # Whisper heard the user go on, or the model withdrew its answer: the frame reaches
            # the LLM service on its own, so only this strategy's note of it is left to clear.
            if self._speculation is not None:
                SPECULATIVE_ANSWERS.labels("withdrawn").inc()
            self._speculation = None
            await self._disarm()  # no answer left for the quiet timer to confirm
        result = await super().process_frame(frame)
        if isinstance(frame, TranscriptionFrame):
            if self._words_say_finished():
                await self.trigger_user_turn_stopped()
            if not self._ended and not self._speaking:
                await self._maybe_speculate(self.heard)  # smart-turn has not ended it (yet)
        return result

    async def handle_user_turn_started(self) -> None:
        await self._withdraw()
        self._heard.clear()
        self._ended = False
        await super().handle_user_turn_started()  # type: ignore[no-untyped-call]

    async def handle_user_turn_stopped(self) -> None:
        # Ended without this strategy (the aggregator's stop timeout): the model answers the
        # turn again, so the early answer goes. Runs before the turn's end reaches the LLM
        # service, which would otherwise release the early answer and then say a second one.
        await self._withdraw()
        self._heard.clear()
        await super().handle_user_turn_stopped()  # type: ignore[no-untyped-call]

    async def cleanup(self) -> None:
        await self._disarm()
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        if self._ended or self._words_say_unfinished():
            return
        self._ended = True
        await self._disarm()
        speculation = self._speculation
        if speculation is not None and self._same_words.matches(speculation.text, self.heard):
            # The answer is under way: the turn's end releases it, and no second one starts.
            self._speculation = None
            SPECULATIVE_ANSWERS.labels("confirmed").inc()
            await self.trigger_user_turn_finalized(
                enable_user_speaking_frames=enable_user_speaking_frames,
                confirms_speculation=True,
            )
            return
        await self._withdraw()  # an answer to other words, if any: the model answers anew
        await super().trigger_user_turn_stopped(
            enable_user_speaking_frames=enable_user_speaking_frames
        )

    async def _maybe_speculate(self, text: str) -> None:
        """Start the answer on `text` unless its words are unfinished or it is under way; an
        answer to other words is withdrawn first."""
        if not self._speculate or self._ended:
            return
        current = self._speculation
        if current is not None and self._same_words.matches(current.text, text):
            return
        await self._withdraw()
        if not text or self._unfinished(text):
            return
        self._speculation = UserTurnSpeculation(text=text)
        SPECULATIVE_ANSWERS.labels("started").inc()
        await self.trigger_user_turn_inference_triggered(speculation=self._speculation)
        await self._rearm()

    async def _withdraw(self) -> None:
        """Drop the early answer in flight, if there is one."""
        speculation, self._speculation = self._speculation, None
        await self._disarm()
        if speculation is not None:
            SPECULATIVE_ANSWERS.labels("withdrawn").inc()
            await self.trigger_user_turn_speculation_cancelled()  # type: ignore[no-untyped-call]

    async def _rearm(self) -> None:
        """(Re)start the quiet timer while an answer is under way, as the aggregator restarts
        its stop timeout on the same frames."""
        await self._disarm()
        if self._speculation is not None and self._quiet_end_s is not None:
            self._quiet_timer = self.task_manager.create_task(
                self._end_when_quiet(self._quiet_end_s), f"{self}::end_when_quiet"
            )

    async def _disarm(self) -> None:
        timer, self._quiet_timer = self._quiet_timer, None
        if timer is not None and timer is not asyncio.current_task():
            await self.cancel_task(timer)

    async def _end_when_quiet(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        speculation = self._speculation
        if self._speaking or speculation is None:
            return
        if self._same_words.matches(speculation.text, self.heard):
            await self.trigger_user_turn_stopped()  # confirms it

    def _words_say_unfinished(self) -> bool:
        return self._unfinished(self.heard)

    def _unfinished(self, text: str) -> bool:
        judge = self._also_unfinished
        return sounds_unfinished(text) or (judge is not None and judge(text))

    def _words_say_finished(self) -> bool:
        """`also_finished` calls the words whole and the user is quiet; `trigger_user_turn_stopped`
        still refuses a turn already ended or whose words are unfinished."""
        judge, text = self._also_finished, self.heard
        return not self._speaking and judge is not None and bool(text) and judge(text)
