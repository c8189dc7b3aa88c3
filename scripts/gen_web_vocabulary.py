"""Writes web/src/protocol/vocabulary.ts from libs/contracts, so the browser and the services
use one set of names for how a session ends (close codes, end reasons, refusals), for the
codes of `error` messages, for what a ticket opens, and one rule for which closes to retry.

    .venv/bin/python scripts/gen_web_vocabulary.py          # rewrite the file
    .venv/bin/python scripts/gen_web_vocabulary.py --check  # exit 1 if it is stale (tests do)
"""

from __future__ import annotations

import argparse
import sys
from enum import Enum
from pathlib import Path

from contracts.browser import VOICED_PEAK, ErrorCode
from contracts.progress import PROGRESS_KEY, ProgressKind
from contracts.session import (
    DELIBERATE_ENDS,
    RETRYABLE_CLOSE_CODES,
    CloseCode,
    EndReason,
    RefusalKind,
)
from contracts.tickets import TicketPurpose

TARGET = Path(__file__).resolve().parents[1] / "web" / "src" / "protocol" / "vocabulary.ts"


def _const(enum: type[Enum]) -> str:
    members = "\n".join(f"  {m.name}: {m.value!r}," for m in enum).replace("'", '"')
    name = enum.__name__
    return (
        f"export const {name} = {{\n{members}\n}} as const;\n"
        f"export type {name} = (typeof {name})[keyof typeof {name}];\n"
    )


def render() -> str:
    deliberate = ", ".join(f"EndReason.{m.name}" for m in sorted(DELIBERATE_ENDS))
    retryable = ", ".join(
        f"CloseCode.{code.name}" if isinstance(code, CloseCode) else str(code)
        for code in sorted(RETRYABLE_CLOSE_CODES)
    )
    return (
        "// Generated from libs/contracts/src/contracts/session.py, browser.py, progress.py and\n"
        "// tickets.py by scripts/gen_web_vocabulary.py: do not edit (a test fails when it is\n"
        "// stale).\n\n"
        f"{_const(CloseCode)}\n{_const(EndReason)}\n{_const(RefusalKind)}\n{_const(ErrorCode)}\n"
        f"{_const(ProgressKind)}\n{_const(TicketPurpose)}\n"
        "/** Where a team or Claude Code event carries its `RunProgress`. */\n"
        f'export const PROGRESS_KEY = "{PROGRESS_KEY}";\n\n'
        "/** The peak (of 32767) of a microphone frame the user is speaking in: where the\n"
        " * gateway's voice latency and the client's mouth-to-ear both start. */\n"
        f"export const VOICED_PEAK = {VOICED_PEAK};\n\n"
        "/** Sessions that ended as somebody meant: not reconnected. */\n"
        f"export const DELIBERATE_ENDS: ReadonlySet<string> = new Set([{deliberate}]);\n\n"
        "/** Transient closes: reconnected with backoff. */\n"
        f"export const RETRYABLE_CLOSE_CODES: ReadonlySet<number> = new Set([{retryable}]);\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run scripts/gen_web_vocabulary.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
