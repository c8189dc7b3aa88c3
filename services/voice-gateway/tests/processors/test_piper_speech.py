"""What the local brain hands its speech service: the first clause at once, then sentences
(Pipecat's frame-level harness)."""

from pipecat.frames.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.tests.utils import run_test

from voice_gateway.brains.command_router import HELP_REPLY
from voice_gateway.processors.piper_speech import ClauseChunker


async def _spoken(*frames: Frame) -> list[str | type[Frame]]:
    """What comes out: each text piece, and the type of every other frame."""
    received, _ = await run_test(ClauseChunker(), frames_to_send=list(frames))
    return [f.text if isinstance(f, LLMTextFrame) else type(f) for f in received]


def _reply(*tokens: str) -> list[Frame]:
    return [LLMFullResponseStartFrame(), *map(LLMTextFrame, tokens), LLMFullResponseEndFrame()]


async def test_a_reply_in_one_piece_is_spoken_from_its_first_clause() -> None:
    assert await _spoken(*_reply(HELP_REPLY)) == [
        LLMFullResponseStartFrame,
        "I can hand a task to the team or to Claude Code,",
        " pause them, or start the team over.",
        " For example, say: ask the team to write a haiku about the sea.",
        LLMFullResponseEndFrame,
    ]


async def test_streamed_tokens_are_cut_as_soon_as_a_piece_is_certain() -> None:
    tokens = ["Sure", ",", " I've", " handed", " that", " over", ".", " It", " may", " take",
              " a", " while", ",", " though", "."]  # fmt: skip
    assert await _spoken(*_reply(*tokens)) == [
        LLMFullResponseStartFrame,
        "Sure, I've handed that over.",  # "Sure," alone is too short to say on its own
        " It may take a while, though.",
        LLMFullResponseEndFrame,
    ]


async def test_a_sentence_ends_only_once_the_next_word_has_begun() -> None:
    assert await _spoken(*_reply("Ask Dr.", " Smith to look", " at it.")) == [
        LLMFullResponseStartFrame,
        "Ask Dr. Smith to look at it.",
        LLMFullResponseEndFrame,
    ]


async def test_a_reply_cut_short_leaves_nothing_behind_for_the_next() -> None:
    """What a reply had not handed on yet is dropped when the next one starts (as when the
    user interrupts it: both go through the same reset)."""
    frames = [
        LLMFullResponseStartFrame(),
        LLMTextFrame("Let me tell you everything about the sea"),
        *_reply("Stopped."),
    ]
    assert await _spoken(*frames) == [
        LLMFullResponseStartFrame,
        LLMFullResponseStartFrame,
        "Stopped.",
        LLMFullResponseEndFrame,
    ]
