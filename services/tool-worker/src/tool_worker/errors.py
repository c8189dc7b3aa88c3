"""Why a tool could not do its work, in words a person can hear."""


class BackendUnavailable(Exception):
    """The agentic backend could not be reached or dropped us. `spoken` is the tool's answer."""

    def __init__(self, spoken: str, *, kind: str) -> None:
        super().__init__(spoken)
        self.spoken = spoken
        self.kind = kind  # unreachable, timeout, refused, disconnected


def seconds(value: float) -> str:
    """'1 second', '2.5 seconds': durations as they are spoken."""
    return f"{value:g} second" + ("" if value == 1 else "s")
