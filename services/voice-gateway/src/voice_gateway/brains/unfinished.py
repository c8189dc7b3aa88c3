"""Whether a transcript stops where no sentence ends: "Ask the team to", "Tell Claude and".

Why: smart-turn judges the end of a turn from the sound, and a speaker who pauses for half a
second after "Ask the team to" often sounds finished to it: the router then answered half a
command (docs/benchmarks.md, false cut-offs). A sentence that ends in an article, a preposition,
a conjunction or a comma is not over, whatever it sounds like; the turn waits for more, and ends
anyway after GATEWAY_TURN_STOP_TIMEOUT_S of silence if nothing comes.
"""

from __future__ import annotations

import re

# Words a spoken command does not end on. Kept short on purpose: "Hold on.", "Start over.",
# "Cancel that.", "Stop, please." end on words that can dangle elsewhere, so those are not here.
DANGLING = frozenset(
    {"a", "an", "the", "to", "of", "for", "with", "about", "at", "from", "by", "into", "and",
     "or", "but", "nor", "because", "if", "than", "my", "your", "our", "their", "his", "her",
     "its", "um", "uh", "er"}
)  # fmt: skip
_WORD = re.compile(r"[a-z']+")


def sounds_unfinished(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped.endswith(("?", "!")):
        return False
    if stripped.endswith((",", "...", "\u2026", "-", "\u2014")):
        return True
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] in DANGLING
