import time

import pytest

from contracts import ToolName
from voice_gateway.brains.command_router import (
    HELP_REPLY,
    MAX_TEXT_CHARS,
    Command,
    route,
    task_missing,
)

NESTED = ToolName.SEND_TO_NESTED
CLAUDE = ToolName.SEND_TO_CLAUDE_CODE
HELP = Command(None)


@pytest.mark.parametrize(
    ("utterance", "text"),
    [
        ("ask the team to write a haiku about the sea.", "write a haiku about the sea"),
        ("Ask the team to write a haiku.", "write a haiku"),
        ("ASK THE TEAM TO WRITE A HAIKU", "WRITE A HAIKU"),
        ("tell the team to summarize today's news", "summarize today's news"),
        ("Tell the team, the deploy is done.", "the deploy is done"),
        ("Team, please draft the release notes.", "draft the release notes"),
        ("team: check the logs", "check the logs"),
        ("The team, write a limerick!", "write a limerick"),
        ("Have the team review the pull request.", "review the pull request"),
        ("send to the team: check the error rate", "check the error rate"),
        ("Send this to the team: look into the outage.", "look into the outage"),
        ("Get the team to draft an email, please.", "draft an email"),
        ("get the team to draft an email please", "draft an email"),
        ("Ask the team to please plan the sprint.", "plan the sprint"),
        ("Okay, ask the team to write a haiku.", "write a haiku"),
        ("Um, ask the team to write a haiku.", "write a haiku"),
        ("Okay, um, so, ask the team to write a haiku.", "write a haiku"),
        ("Please ask the team to write a haiku", "write a haiku"),
        ("Can you ask the team to write a haiku?", "write a haiku"),
        ("Hey team, what's the status of the migration?", "what's the status of the migration"),
        ("Ask the team: what's blocking the release?", "what's blocking the release"),
        ("I want the team to look at the flaky test.", "look at the flaky test"),
        ("Ask the agent team to find a venue.", "find a venue"),
        ("Ask the agents to find a venue.", "find a venue"),
        ("Wait, ask the team to write a poem instead.", "write a poem instead"),
        ("Ask the team to write a haiku, thanks.", "write a haiku"),
        ("ask   the team   to  write a   haiku", "write a haiku"),
        ("  ask the team to write a haiku...  ", "write a haiku"),
        ("Ask the team to Write A Haiku About Paris.", "Write A Haiku About Paris"),
        ("ask the team to stop the server", "stop the server"),
        ("Let the team know the build is green.", "the build is green"),
        ("let the team know that I'll be late", "I'll be late"),
        ("ask the team to reset the database", "reset the database"),
        # A sentence said in two halves, as the turn joins their transcripts:
        ("Have the team. Summarize the meeting notes.", "Summarize the meeting notes"),
        ("Ask the team too. Write a haiku about the sea.", "Write a haiku about the sea"),
        ("Ask the team two, maybe three questions.", "two, maybe three questions"),
    ],
)
def test_send_to_nested(utterance: str, text: str) -> None:
    assert route(utterance) == Command(NESTED, text)


@pytest.mark.parametrize(
    ("utterance", "text"),
    [
        ("tell Claude to fix the failing test", "fix the failing test"),
        ("Tell Claude to fix the failing test.", "fix the failing test"),
        ("tell Claude to stop the server", "stop the server"),
        ("Tell Cloud to fix the failing test.", "fix the failing test"),
        ("tell clod to fix the failing test", "fix the failing test"),
        ("Tell Claud to run the linter.", "run the linter"),
        ("Tell clawed to deploy.", "deploy"),
        ("Ask Claude Code to add type hints.", "add type hints"),
        ("Ask cloud code to add type hints.", "add type hints"),
        ("ask Claude-Code to bump the version", "bump the version"),
        ("Claude, run the tests.", "run the tests"),
        ("Cloud, run the tests.", "run the tests"),
        ("Claude Code: rename the module to router.", "rename the module to router"),
        ("Claude please fix the build.", "fix the build"),
        ("Claude, can you fix the build?", "fix the build"),
        ("Have Claude refactor the parser.", "refactor the parser"),
        ("have claude code refactor the parser", "refactor the parser"),
        ("Get Claude to write the migration.", "write the migration"),
        ("Send this to Claude: the login page is broken.", "the login page is broken"),
        ("Okay, tell Claude to fix the failing test.", "fix the failing test"),
        ("Um, Claude, please fix the login bug.", "fix the login bug"),
        ("Hey Claude, what does this function do?", "what does this function do"),
        ("Please tell Claude to fix the test please.", "fix the test"),
        ("tell Claude to start over", "start over"),
        ("No, tell Claude to revert that.", "revert that"),
        ("Tell Claude 2. Run the unit tests.", "Run the unit tests"),
    ],
)
def test_send_to_claude_code(utterance: str, text: str) -> None:
    assert route(utterance) == Command(CLAUDE, text)


@pytest.mark.parametrize(
    "utterance",
    [
        "pause",
        "Pause.",
        "stop",
        "Stop.",
        "STOP!",
        "Stop! Stop!",
        "stop stop stop",
        "Stop it.",
        "Stop everything.",
        "Stop the team.",
        "stop the team now",
        "Pause the team for a second.",
        "Stop what the team is doing, it's wrong.",
        "Hold on.",
        "Hold on a second.",
        "Hang on.",
        "Wait.",
        "Wait, wait, wait.",
        "Wait a minute.",
        "Cancel that.",
        "cancel",
        "Okay, stop.",
        "Um, hold on.",
        "Please stop.",
        "Tell the team to stop.",
        "team, stop",
        "Ask the team to please pause for now.",
    ],
)
def test_pause(utterance: str) -> None:
    assert route(utterance) == Command(ToolName.PAUSE)


@pytest.mark.parametrize(
    "utterance",
    [
        "reset",
        "Reset.",
        "Reset the team.",
        "Reset everything.",
        "Start over.",
        "start over with the team",
        "Let's start over.",
        "Let\u2019s start over.",
        "Okay, let's start from scratch.",
        "New conversation.",
        "Start a new conversation.",
        "Clear everything.",
        "Clear the conversation.",
        "Begin again.",
        "Restart.",
        "Um, start over please.",
        "Tell the team to start over.",
    ],
)
def test_reset(utterance: str) -> None:
    assert route(utterance) == Command(ToolName.RESET)


@pytest.mark.parametrize(
    "utterance",
    [
        "stop Claude",
        "Stop Claude.",
        "Stop, Claude!",
        "Stop cloud.",
        "stop clod",
        "Pause Claude Code.",
        "pause cloud code",
        "Cancel Claude.",
        "Halt Claude now.",
        "Stop Claude, it's deleting files!",
        "Stop what Claude is doing.",
        "Hold on, Claude.",
        "Claude, stop.",
        "Claude stop",
        "Cloud Code, stop.",
        "Tell Claude to stop.",
        "Okay, stop Claude.",
        "Um, stop clawed.",
    ],
)
def test_pause_claude_code(utterance: str) -> None:
    assert route(utterance) == Command(ToolName.PAUSE_CLAUDE_CODE)


@pytest.mark.parametrize(
    "utterance",
    [
        "",
        "   ",
        "\n\t",
        "...",
        "Okay.",
        "Um,",
        "hello",
        "Hello there.",
        "What's the weather?",
        "what's the weather like tomorrow",
        "Tell me a joke.",
        "Can you tell me a joke?",
        "Thank you.",
        "ask the team",
        "Ask the team.",
        "Ask the team to.",
        "Tell Claude.",
        "Ask Claude Code to.",
        "Claude?",
        "Team.",
        "Send this to the team.",
        "Get the team's status.",
        "stop the music",
        "The cloud is down.",
        "Team meeting at three.",
        "Stop. Tell the team to write a limerick instead.",
        "Ask the team too.",  # addressed, and "to" cut at a pause: no task to hand over
        "Tell Claude 2.",
    ],
)
def test_help(utterance: str) -> None:
    assert route(utterance) == HELP


def test_help_reply_is_short_and_has_an_example() -> None:
    assert 0 < len(HELP_REPLY) < 200
    assert "for example" in HELP_REPLY.lower()


def test_long_task_text_is_truncated() -> None:
    command = route("Ask the team to " + "write a haiku " * 500)
    assert command.tool == NESTED
    assert command.text is not None
    assert len(command.text) <= MAX_TEXT_CHARS
    assert command.text.startswith("write a haiku write")


@pytest.mark.parametrize(
    "utterance",
    [
        "\x00",
        "\ud800",
        "\u200b",
        "\U0001f3b5 \U0001f3b5",
        "[BLANK_AUDIO]",
        "(music)",
        "'",
        "''stop''",
        "to to to",
        "please please",
        "claude claude claude",
        ",,,,,,,,,,",
        "ask the team to " + "please " * 3000,
        "stop " * 5000 + "the server",
        "ask the team x" + "," * 20_000 + "y",
        "a" * 1_000_000,
        "Team, " + "\n" * 1000 + "go",
    ],
)
def test_odd_input_never_raises(utterance: str) -> None:
    started = time.perf_counter()
    command = route(utterance)
    assert time.perf_counter() - started < 0.5
    assert isinstance(command, Command)
    assert command.text is None or 0 < len(command.text) <= MAX_TEXT_CHARS


@pytest.mark.parametrize(
    ("said", "missing"),
    [
        ("Ask the team too.", True),  # "to", cut at a pause
        ("Tell Claude 2.", True),
        ("Have the team.", True),  # addressed, and nothing to do yet
        ("Wait, ask Claude.", True),
        ("Ask the team to write a haiku.", False),
        ("Ask the team to deploy.", False),  # a task of one word is a task
        ("Stop the team.", False),  # not a hand-off
        ("What is the weather like?", False),
        ("Claude, stop.", False),
    ],
)
def test_a_hand_off_without_a_task_is_not_over(said: str, missing: bool) -> None:
    assert task_missing(said) is missing
