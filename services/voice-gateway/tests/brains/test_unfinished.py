"""A transcript that stops on a dangling word is not a finished turn."""

import pytest

from voice_gateway.brains.unfinished import sounds_unfinished


@pytest.mark.parametrize(
    "text",
    ["Ask the team to", " Ask the team to.", "Tell Claude and", "Have the team,", "Ask the",
     "Send it to the team because...", "Ask Claude to um"],
)  # fmt: skip
def test_a_sentence_left_hanging_is_unfinished(text: str) -> None:
    assert sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    ["Ask the team to write a haiku.", "Stop Claude.", "What is it for?", "Stop!", "", "  ",
     "Start over", "Thank you.", "Hold on.", "Cancel that.", "Stop, please."],
)  # fmt: skip
def test_a_whole_sentence_or_a_question_is_not(text: str) -> None:
    assert not sounds_unfinished(text)
