"""A small, deterministic command router for the offline "local brain".

When no local LLM is configured, the gateway still has to do something useful with what the
user said. This module maps one Whisper (tiny.en) transcription to one of the five voice tools,
or to nothing, in which case the caller speaks `HELP_REPLY`. It is deliberately predictable: a
fixed set of phrasings, tolerant of Whisper's casing, punctuation and fillers ("Okay, um, ...")
and of its usual mishearings of "Claude" (cloud, clod, claud, clawed). It never pretends to be a
general assistant: anything it does not recognise gets the help reply.

Order matters: "stop Claude" pauses Claude Code (not the team); "tell Claude to stop the server"
is a task for Claude, while a bare "tell Claude to stop" pauses it (likewise for the team, where
"tell the team to start over" resets it).
"""

import re
from dataclasses import dataclass

from contracts import ToolName

HELP_REPLY = (
    "I can hand a task to the team or to Claude Code, pause them, or start the team over. "
    "For example, say: ask the team to write a haiku about the sea."
)
MAX_TEXT_CHARS = 2_000  # task text longer than this is truncated
_MAX_INPUT_CHARS = 10_000  # bounds the work done on pathological input


@dataclass(frozen=True)
class Command:
    """What to do with an utterance: a tool (with its task text), or `tool=None` for help."""

    tool: ToolName | None  # None: nothing to do; say `HELP_REPLY`
    text: str | None = None  # the task for send_to_nested / send_to_claude_code, cleaned


_HELP = Command(None)
_I = re.IGNORECASE

# Names as Whisper writes them.
_CLAUDE = r"(?:claude|claud|clawed|clawd|cloud|clod|clode|klaud|klod)(?:[\s-]*code)?"
_TEAM = r"(?:(?:the\s+)?(?:agent\s+)?team|(?:the\s+)?agents)"

# Command-only phrases, matched against the "bare" utterance (lowercase words, no punctuation).
_STOP = r"(?:stop|pause|halt|cancel|abort|interrupt)"
_SOFT = r"(?:wait|hold\s+on|hold\s+it|hang\s+on)"
_TAIL = (
    r"(?:\s+(?:it|that|this|everything|all|working|now|right\s+now|please|for\s+now"
    r"|(?:for\s+)?a\s+(?:sec|second|moment|minute)))*"
)
_PAUSE_UNIT = rf"(?:{_STOP}|{_SOFT})(?:\s+{_TEAM})?{_TAIL}"
_PAUSE_ONLY = re.compile(rf"{_PAUSE_UNIT}(?:\s+{_PAUSE_UNIT})*", _I)  # "stop", "wait wait"
_PAUSE_TEAM = re.compile(rf"{_STOP}\s+(?:what\s+)?{_TEAM}\b", _I)  # prefix: "stop the team ..."
_PAUSE_CLAUDE = re.compile(rf"{_STOP}\s+(?:what\s+)?{_CLAUDE}\b", _I)  # prefix: "stop Claude ..."
_PAUSE_CLAUDE_ONLY = re.compile(
    rf"(?:{_SOFT}\s+{_CLAUDE}{_TAIL}|{_CLAUDE}\s+{_PAUSE_ONLY.pattern})", _I
)
_RESET_ONLY = re.compile(
    r"(?:let's\s+|let\s+us\s+)?"
    r"(?:start\s+(?:over|again|afresh|fresh|from\s+scratch)|begin\s+again|restart|reset"
    r"|(?:start\s+)?(?:a\s+)?new\s+(?:conversation|chat|session)"
    r"|clear\s+(?:everything|it\s+all|all|the\s+conversation|the\s+history)"
    r"|wipe\s+(?:everything|the\s+slate(?:\s+clean)?))"
    rf"(?:\s+(?:with\s+)?(?:{_TEAM}|everything|the\s+conversation))?(?:\s+(?:please|now))*",
    _I,
)

# Sending work: "ask the team to ...", "have Claude ...", "Claude, ...", "team, please ...".
_NAMES = rf"(?:(?P<claude>{_CLAUDE})|(?P<team>{_TEAM}))"
_SEND_VERB = (
    r"(?:ask|tell|have|get|let|i\s+(?:want|need)|i'd\s+like|i\s+would\s+like"
    r"|send(?:\s+(?:this|that|it|a\s+message|a\s+note))?(?:\s+(?:over\s+)?to)?)"
)
_BY_VERB = re.compile(
    rf"{_SEND_VERB}\s+{_NAMES}\b(?!')(?:\s+know\b(?:\s+that\b)?)?(?P<rest>.*)", _I
)  # "let the team know (that) ..." passes on what follows "know"
_BY_ADDRESS = re.compile(rf"{_NAMES}(?:\s*[,:;.!?-]\s*|\s+(?=please\b))(?P<rest>.*)", _I)

# Clean-up.
_SEP = r"[\s,.!?;:\u2026-]"
_FILLERS = re.compile(
    r"^(?:(?:okay|ok|um+|uh+|uhm|erm?|hmm+|ah|oh|hey|hi|hello|so|well|right|alright|all\s+right"
    rf"|yeah|yes|now|also|actually|and|just|please|(?:can|could|would|will)\s+you)\b{_SEP}*)+",
    _I,
)
_SOFT_LEAD = re.compile(rf"^(?:wait|hold\s+on|hang\s+on|no|sorry)\b{_SEP}+", _I)  # "Wait, ask..."
_LEAD = re.compile(
    r"^(?:[\s,:;.!?\u2026\u2013\u2014-]|(?:to|please|(?:can|could|would|will)\s+you)\b"
    r"|(?:too|two|2)\.(?=\s))+",  # "Ask the team too. Write a haiku": "to" heard at a pause
    _I,
)
_TRAIL_WORD = re.compile(r"(?<![\s,])(?:[\s,]+please|\s*,\s*(?:thanks|thank\s+you))$", _I)
_TRAIL_PUNCT = " ,.!?;:\u2026\u2013\u2014-"
_NO_TASK = ("", "to", "too", "two", "2")  # "to" as Whisper writes it when a pause follows
_NOT_WORD = re.compile(r"[^\w\s']+|'(?!\w)|(?<!\w)'")


def route(utterance: str) -> Command:
    """Map one transcribed utterance to a `Command`; never raises."""
    text = _normalised(utterance)
    bare = _bare(text)
    if not bare:
        return _HELP
    if _PAUSE_CLAUDE.match(bare) or _PAUSE_CLAUDE_ONLY.fullmatch(bare):
        return Command(ToolName.PAUSE_CLAUDE_CODE)
    sent = _route_send(text)
    if sent is not None:
        return sent
    if _PAUSE_TEAM.match(bare) or _PAUSE_ONLY.fullmatch(bare):
        return Command(ToolName.PAUSE)
    if _RESET_ONLY.fullmatch(bare):
        return Command(ToolName.RESET)
    return _HELP


def _normalised(utterance: str) -> str:
    """The utterance, bounded, on one line, with typographic apostrophes and fillers gone."""
    text = " ".join(utterance[:_MAX_INPUT_CHARS].replace("\u2019", "'").split())
    return _FILLERS.sub("", text)


def _addressed(text: str) -> re.Match[str] | None:
    """How a normalised `text` hands work over ("ask the team ...", "Claude, ..."), if it does;
    its `rest` group is the task. A soft lead ("Wait, ...") is read past."""
    text = _SOFT_LEAD.sub("", text)
    return _BY_VERB.match(text) or _BY_ADDRESS.match(text)


def _route_send(text: str) -> Command | None:
    """A send to the team or Claude, or None if `text` does not address either."""
    match = _addressed(text)
    if match is None:
        return None
    task = _clean(match["rest"])
    bare = _bare(task)
    if bare in _NO_TASK:
        return _HELP  # "ask the team", "ask the team too": addressed, but no task
    if match["claude"] is not None:
        if _PAUSE_ONLY.fullmatch(bare):  # "tell Claude to stop", "Claude, stop"
            return Command(ToolName.PAUSE_CLAUDE_CODE)
        return Command(ToolName.SEND_TO_CLAUDE_CODE, task)
    if _PAUSE_ONLY.fullmatch(bare):  # "tell the team to stop"
        return Command(ToolName.PAUSE)
    if _RESET_ONLY.fullmatch(bare):  # "tell the team to start over"
        return Command(ToolName.RESET)
    return Command(ToolName.SEND_TO_NESTED, task)


def _clean(rest: str) -> str:
    """The task in the user's words: no leading "to"/"please"/":", no trailing punctuation."""
    text = _LEAD.sub("", rest)
    previous = None
    while text != previous:
        previous = text
        text = _TRAIL_WORD.sub("", text.rstrip(_TRAIL_PUNCT))
    return text[:MAX_TEXT_CHARS].rstrip()


def _bare(text: str) -> str:
    """Lowercase words only, for matching command phrases."""
    return " ".join(_NOT_WORD.sub(" ", text).split()).lower()


def task_missing(utterance: str) -> bool:
    """Whether the utterance hands work over with no task yet: "Have the team." or "Ask the
    team too." (how Whisper writes "Ask the team to" cut at a pause; also "two", "2"). A turn
    that ends here waits for the rest (brains/turn_stop.py); a one-word task ("ask the team to
    deploy") is a task."""
    match = _addressed(_normalised(utterance))
    return match is not None and _bare(_clean(match["rest"])) in _NO_TASK


def awaits_more(utterance: str) -> bool:
    """Whether the router should hear more before answering: a hand-off with no task yet, or
    words it cannot route that may be the first half of a command ("Have the team." heard
    before "summarise the meeting notes", a first half misheard). Answering those at a pause
    gives the help reply in the middle of the user's sentence; waiting costs only the turn's
    stop timeout, and only when the answer would have been the help reply anyway. A question
    is over: it gets its help reply at once."""
    text = utterance.strip()
    if not text or text.endswith("?"):
        return False
    return task_missing(text) or route(text).tool is None


def whole_command(utterance: str) -> bool:
    """Whether the utterance is a command the router carries out, said to its end ("Stop the
    team.", "Tell Claude to fix the failing test."): the turn may end on it even when
    smart-turn hears the voice as unfinished (TranscriptAwareTurnStop)."""
    text = utterance.strip()
    return text.endswith((".", "!")) and route(text).tool is not None  # no task: no tool
