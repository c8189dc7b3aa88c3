"""The local brain's stop strategy holds a turn whose words are not over, judged on all of the
turn's transcripts, and lets a whole command through at once; on the LLM path it starts the
answer early, and confirms or withdraws it as the turn ends."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    EagerTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.turns.types import UserTurnSpeculation
from pipecat.turns.user_stop.base_user_turn_stop_strategy import UserTurnStoppedParams
from pipecat.utils.asyncio.task_manager import TaskManager

from voice_gateway.adapters.pipecat_shared_models import SharedSmartTurn
from voice_gateway.brains.command_router import awaits_more, task_missing, whole_command
from voice_gateway.brains.turn_stop import TranscriptAwareTurnStop


class Turn:
    """One user turn through the strategy, as Pipecat's turn controller drives it: the turn
    starts, the VAD hears speech, transcripts arrive, and smart-turn's "finished" asks the
    strategy to end the turn (`trigger_user_turn_stopped`)."""

    def __init__(self, strategy: TranscriptAwareTurnStop) -> None:
        self.strategy = strategy
        self.stopped = 0

        @strategy.event_handler("on_user_turn_stopped")
        async def _stopped(_strategy: object, _params: object) -> None:
            self.stopped += 1

    async def start(self) -> None:
        await self.strategy.handle_user_turn_started()
        await self.strategy.process_frame(VADUserStartedSpeakingFrame())

    async def hear(self, text: str) -> bool:
        """A transcript, then smart-turn's "finished": whether the turn ended."""
        before = self.stopped
        await self.strategy.process_frame(TranscriptionFrame(text, "user", "now"))
        await self.strategy.trigger_user_turn_stopped()
        return self.stopped > before


def router_turn() -> Turn:
    return Turn(
        TranscriptAwareTurnStop(
            turn_analyzer=SharedSmartTurn(),
            also_unfinished=awaits_more,
            also_finished=whole_command,
        )
    )


async def set_up(turn: Turn) -> None:
    """What the pipeline gives a strategy when it starts: its clock and task manager (the
    strategy's stop timer runs on them)."""
    setup = FrameProcessorSetup(
        clock=SystemClock(),
        task_manager=TaskManager(loop=asyncio.get_running_loop()),
        pipeline_worker=None,  # type: ignore[arg-type]  # a stop strategy never reads it
    )
    await turn.strategy.setup(setup)


async def test_a_whole_command_ends_the_turn_though_smart_turn_heard_it_unfinished() -> None:
    """The VAD stops; smart-turn, given no audio, says "not finished" (its verdict on the
    same input is the same every run); the transcript is a whole command: the turn ends
    on it, not on the 1.2 s stop timeout."""
    turn = router_turn()
    await set_up(turn)
    await turn.start()
    await turn.strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    assert turn.stopped == 0
    await turn.strategy.process_frame(TranscriptionFrame("Stop the team.", "user", "now"))
    assert turn.stopped == 1
    await turn.strategy.cleanup()


@pytest.mark.parametrize("said", ["Have the team.", "What time is it?", "Stop the team"])
async def test_words_that_are_no_whole_command_leave_it_to_smart_turn(said: str) -> None:
    turn = router_turn()
    await set_up(turn)
    await turn.start()
    await turn.strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    await turn.strategy.process_frame(TranscriptionFrame(said, "user", "now"))
    assert turn.stopped == 0
    await turn.strategy.cleanup()


async def test_a_whole_command_heard_while_the_user_speaks_again_waits() -> None:
    turn = router_turn()
    await turn.start()  # the VAD says speaking: the user went on after "Stop the team."
    await turn.strategy.process_frame(TranscriptionFrame("Stop the team.", "user", "now"))
    assert turn.stopped == 0


async def test_a_hand_off_heard_in_halves_ends_with_its_task() -> None:
    turn = router_turn()
    await turn.start()
    assert not await turn.hear("Have the team.")  # smart-turn says finished; the words do not
    assert await turn.hear(
        "Summarize the meeting notes."
    )  # alone it routes nowhere; joined it does
    assert turn.strategy.heard == "Have the team. Summarize the meeting notes."


async def test_a_whole_command_ends_the_turn_at_once() -> None:
    turn = router_turn()
    await turn.start()
    assert await turn.hear("Stop the team.")


async def test_each_turn_is_judged_on_its_own_words() -> None:
    turn = router_turn()
    await turn.start()
    assert not await turn.hear("Ask the team to")
    await turn.strategy.handle_user_turn_stopped()  # the aggregator's stop timeout ended it
    await turn.start()
    assert turn.strategy.heard == ""
    assert await turn.hear("Pause Claude.")


async def test_with_an_llm_only_a_hand_off_without_a_task_waits() -> None:
    turn = Turn(
        TranscriptAwareTurnStop(turn_analyzer=SharedSmartTurn(), also_unfinished=task_missing)
    )
    await turn.start()
    assert not await turn.hear("Tell Claude 2.")
    assert await turn.hear("Run the unit tests.")
    await turn.strategy.handle_user_turn_stopped()
    await turn.start()
    assert await turn.hear("Tell me a joke.")  # the model can answer this; the router cannot


@pytest.mark.parametrize(
    ("said", "waits"),
    [
        ("Have the team.", True),  # addressed, no task yet
        ("Ask the team too.", True),
        ("Planet Rip, Talisman.", True),  # nothing the router knows: maybe a misheard first half
        ("Stop the team.", False),
        ("Ask the team too. Write a haiku about the sea.", False),
        ("What time is it?", False),  # a question is over: its help reply comes at once
        ("", False),
    ],
)
def test_the_router_waits_on_what_it_could_only_answer_with_help(said: str, waits: bool) -> None:
    assert awaits_more(said) is waits


class Speculating(Turn):
    """The LLM path's strategy (with speculative answers unless `speculate=False`), and what it
    asks of the aggregator: answers started (their text; None: an ordinary one, at the turn's
    end), withdrawn, and the turn's end (confirming an early answer or not)."""

    def __init__(self, stop_timeout_s: float | None = None, *, speculate: bool = True) -> None:
        super().__init__(
            TranscriptAwareTurnStop(
                turn_analyzer=SharedSmartTurn(),
                also_unfinished=task_missing,
                speculate=speculate,
                stop_timeout_s=stop_timeout_s,
            )
        )
        self.ended = asyncio.Event()
        self.started: list[str | None] = []  # None: an ordinary answer, at the turn's end
        self.withdrawn = 0
        self.confirmed: list[bool] = []

        @self.strategy.event_handler("on_user_turn_inference_triggered")
        async def _inference(_strategy: object, speculation: UserTurnSpeculation | None) -> None:
            self.started.append(speculation.text if speculation is not None else None)

        @self.strategy.event_handler("on_user_turn_speculation_cancelled")
        async def _withdrawn(_strategy: object) -> None:
            self.withdrawn += 1

        @self.strategy.event_handler("on_user_turn_stopped")
        async def _ended(_strategy: object, params: UserTurnStoppedParams) -> None:
            self.confirmed.append(params.confirms_speculation)
            self.ended.set()

    async def pause(self) -> None:
        await self.strategy.process_frame(VADUserStoppedSpeakingFrame(stop_secs=0.2))

    async def transcript(self, text: str) -> None:
        await self.strategy.process_frame(TranscriptionFrame(text, "user", "now"))


async def speculating(
    stop_timeout_s: float | None = None, *, speculate: bool = True
) -> Speculating:
    turn = Speculating(stop_timeout_s, speculate=speculate)
    await set_up(turn)
    await turn.start()
    return turn


async def test_an_answer_started_at_the_pause_is_the_answer_when_the_turn_ends() -> None:
    turn = await speculating()
    await turn.pause()
    await turn.transcript("Tell me a joke.")  # smart-turn has not said "finished" yet
    assert turn.started == ["Tell me a joke."]
    await turn.strategy.trigger_user_turn_stopped()  # it does
    assert turn.started == ["Tell me a joke."], "a second answer was started"
    assert turn.confirmed == [True]
    assert turn.withdrawn == 0
    await turn.strategy.cleanup()


async def test_whispers_early_transcript_starts_the_answer_while_the_vad_still_hears_speech() -> (
    None
):
    turn = await speculating()
    await turn.transcript("Hello there.")  # an earlier segment of the same turn
    await turn.strategy.process_frame(EagerTranscriptionFrame("Tell me a joke", "user", "now"))
    assert turn.started == ["Hello there. Tell me a joke"]
    await turn.pause()
    await turn.transcript("Tell me a joke.")  # Whisper's punctuation differs: the same words
    await turn.strategy.trigger_user_turn_stopped()
    assert turn.started == ["Hello there. Tell me a joke"]
    assert turn.confirmed == [True]
    await turn.strategy.cleanup()


async def test_a_user_who_goes_on_gets_the_answer_to_the_whole_turn() -> None:
    turn = await speculating()
    await turn.pause()
    await turn.transcript("Tell Claude to fix the test.")
    await turn.strategy.process_frame(VADUserStartedSpeakingFrame())  # "...and the docs."
    assert turn.withdrawn == 1
    await turn.pause()
    await turn.transcript("And the docs.")
    # Started again on the whole turn at the second pause, and that one is the answer.
    assert turn.started == [
        "Tell Claude to fix the test.",
        "Tell Claude to fix the test. And the docs.",
    ]
    await turn.strategy.trigger_user_turn_stopped()
    assert turn.confirmed == [True]
    assert turn.withdrawn == 1
    await turn.strategy.cleanup()


async def test_an_early_answer_whisper_or_the_model_withdrew_is_started_again_later() -> None:
    turn = await speculating()
    await turn.strategy.process_frame(EagerTranscriptionFrame("Ask the team", "user", "now"))
    assert turn.started == []  # a hand-off with no task yet: nothing to answer
    await turn.strategy.process_frame(EagerTranscriptionFrame("Tell me a joke", "user", "now"))
    await turn.strategy.process_frame(EagerEndOfTurnCancelFrame())  # the frame withdraws it
    await turn.pause()
    await turn.transcript("Tell me a joke.")
    await turn.strategy.trigger_user_turn_stopped()
    # Started at the pause again, on the transcript; confirmed by the end.
    assert turn.started == ["Tell me a joke", "Tell me a joke."]
    assert turn.confirmed == [True]
    assert turn.withdrawn == 0  # the cancel frame did the withdrawing, not the strategy
    await turn.strategy.cleanup()


async def test_an_early_answer_to_other_words_is_withdrawn_and_the_turn_answered_anew() -> None:
    turn = await speculating()
    await turn.strategy.process_frame(EagerTranscriptionFrame("Tell me a joke", "user", "now"))
    # The segment went on without a loud frame Whisper would notice; the VAD still hears
    # speech when its transcript arrives, so nothing new starts on it.
    await turn.transcript("Tell me a joke about cats.")
    await turn.pause()
    await turn.strategy.trigger_user_turn_stopped()
    assert turn.withdrawn == 1
    assert turn.started == ["Tell me a joke", None]  # the ordinary answer, at the end
    assert turn.confirmed == [False]
    await turn.strategy.cleanup()


async def test_a_turn_the_stop_timeout_ends_withdraws_its_early_answer_first() -> None:
    turn = await speculating()
    await turn.pause()
    await turn.transcript("Tell me a joke.")
    await turn.strategy.handle_user_turn_stopped()  # the aggregator's timeout, before its stop
    assert turn.withdrawn == 1
    await turn.strategy.cleanup()


async def test_without_speculation_nothing_starts_before_the_turn_ends() -> None:
    turn = await speculating(speculate=False)
    await turn.pause()
    await turn.strategy.process_frame(EagerTranscriptionFrame("Tell me a joke", "user", "now"))
    await turn.transcript("Tell me a joke.")
    assert turn.started == []
    await turn.strategy.trigger_user_turn_stopped()
    assert turn.started == [None]  # the ordinary answer, at the end
    assert turn.confirmed == [False]
    await turn.strategy.cleanup()


async def test_a_quiet_turn_with_its_answer_ready_ends_just_before_the_stop_timeout() -> None:
    """Smart-turn never says "finished" (a flat voice); the words are whole: the strategy
    ends the turn itself, confirming the answer, before the aggregator's timeout (0.3 s here)
    would end it and start the model anew."""
    turn = await speculating(stop_timeout_s=0.3)
    await turn.pause()
    await turn.transcript("Stop the team.")
    await asyncio.wait_for(turn.ended.wait(), timeout=10)  # a bound, not a readiness wait
    assert turn.started == ["Stop the team."]
    assert turn.confirmed == [True]
    await turn.strategy.cleanup()


async def test_the_quiet_timer_never_ends_a_turn_the_user_went_on_with() -> None:
    turn = await speculating(stop_timeout_s=0.3)
    await turn.pause()
    await turn.transcript("Tell Claude to fix the test.")
    await turn.strategy.process_frame(VADUserStartedSpeakingFrame())  # withdraws, disarms
    assert turn.withdrawn == 1
    await turn.pause()
    await turn.transcript("And the")  # unfinished: nothing starts
    # The timer ends only a turn with an answer under way: none is, so it never fires.
    assert not turn.strategy.answer_under_way
    assert turn.confirmed == []
    assert turn.started == ["Tell Claude to fix the test."]
    await turn.strategy.cleanup()
