"""Why a tool could not do its work: a short sentence to say, and the detail to keep.

The assistant reads a failed tool's answer aloud, so it must be a short human sentence ("I can't
reach the team right now"). The URL, the status code or the exception that explains it is for
whoever runs the stack: it goes into the event log and the service log, never into the voice.
"""

from contracts import ToolErrorKind

# What is said for each failure; {whom} is "the team" or "Claude Code".
_SPOKEN = {
    ToolErrorKind.UNREACHABLE: "I can't reach {whom} right now.",
    ToolErrorKind.REFUSED: "{Whom} couldn't take that right now.",
    ToolErrorKind.NO_ANSWER: "{Whom} didn't answer in time.",
    ToolErrorKind.DISCONNECTED: "I lost the connection to {whom}.",
    ToolErrorKind.TIMEOUT: "That took too long; {whom} may not have it.",
}


def spoken(kind: ToolErrorKind, whom: str) -> str:
    """What the assistant says about a failure of `kind` reaching `whom`."""
    return _SPOKEN[kind].format(whom=whom, Whom=whom[0].upper() + whom[1:])


class BackendUnavailable(Exception):
    """The agentic backend could not be reached, refused, or dropped us."""

    def __init__(self, whom: str, kind: ToolErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail  # for the event and the log
        self.spoken = spoken(kind, whom)


def seconds(value: float) -> str:
    """'1 second', '2.5 seconds': durations as they are written in details."""
    return f"{value:g} second" + ("" if value == 1 else "s")
