"""Reading a service's settings at start, with a clear refusal when a value is wrong."""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from pydantic import ValidationError

S = TypeVar("S")


def load_settings(settings_class: type[S], service: str) -> S:
    """`settings_class()` read from the environment; on a bad value, one line per problem on
    stderr naming the variable and what it should be, and exit status 2. pydantic's traceback
    would bury that under twenty lines of its internals. The values themselves are not echoed:
    a mistyped key or token must not reach a log."""
    try:
        return settings_class()
    except ValidationError as exc:
        prefix = str(getattr(settings_class, "model_config", {}).get("env_prefix", ""))
        problems = [_describe(error, prefix) for error in exc.errors()]
        print(f"{service}: not started, its configuration is invalid:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _describe(error: Any, prefix: str) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not location:  # a check across several settings: its message names them
        return message
    variable = location if location.isupper() else f"{prefix}{location}".upper()
    return f"{variable}: {message}"
