"""The local brain's stop strategy holds a turn whose words are not over, judged on all of the
turn's transcripts, and lets a whole command through at once."""

from __future__ import annotations

import asyncio

import pytest
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import (
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameProcessorSetup
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
