"""How the fuzz tests draw their inputs: the same ones every run in `make test`, fresh ones and
more of them under `make fuzz`.

CI must pass or fail the same way every run, so `make test` fixes every seed: Hypothesis runs
derandomized (its examples follow from each test's own code) and schemathesis gets
`SCHEMATHESIS_SEED`. `make fuzz` sets FUZZ_EXPLORE=1: fresh seeds and FUZZ_SCALE (default 5)
times the examples; a failure prints the example and a `@reproduce_failure` line that replays it.
"""

from __future__ import annotations

import os

from hypothesis import settings

EXPLORE = os.environ.get("FUZZ_EXPLORE") == "1"
SCALE = int(os.environ.get("FUZZ_SCALE", "5")) if EXPLORE else 1
SCHEMATHESIS_SEED = 20261203

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile("explore" if EXPLORE else "ci")


def examples(ci_budget: int) -> int:
    """The number of examples for a test whose CI budget is `ci_budget`."""
    return ci_budget * SCALE


def schemathesis_seed() -> list[str]:
    """schemathesis's arguments for its seed: fixed in CI, its own choice when exploring."""
    if EXPLORE:
        return []
    return ["--seed", str(SCHEMATHESIS_SEED), "--generation-deterministic"]
