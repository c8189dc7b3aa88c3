"""The Pipecat version the adapters were written against, the checks each runs at start-up (the
version, and that Pipecat's code still names the attributes it relies on), and the error they
raise. Its own module, so that the Realtime adapter can use it without loading the local
brain's models (onnxruntime alone is about 20 MB of a Realtime-only gateway)."""

from collections.abc import Callable
from typing import Any

import pipecat

PIPECAT_VERSION = "1.14.0"


class PipecatMismatch(RuntimeError):
    """The installed Pipecat no longer matches what an adapter mirrors or overrides."""


def require_pipecat_version(adapter: str, relies_on: str) -> None:
    """Each adapter's first check: the installed Pipecat is the one it was written against.
    `relies_on` names what to read in a new version before updating `adapter`."""
    if pipecat.__version__ != PIPECAT_VERSION:
        raise PipecatMismatch(
            f"{adapter} relies on Pipecat {PIPECAT_VERSION}'s {relies_on}, found "
            f"{pipecat.__version__}: check it, then update {adapter}"
        )


def require_names(function: Callable[..., Any], *names: str, otherwise: str) -> None:
    """`function`'s code still names each of `names` (the attributes an adapter relies on it
    reading or setting); `otherwise` says what breaks when one is gone."""
    absent = [name for name in names if name not in function.__code__.co_names]
    if absent:
        raise PipecatMismatch(
            f"{function.__qualname__} no longer names {', '.join(absent)}: {otherwise}"
        )
