"""The benchmarks' one definition of a percentile."""

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `q` % of the values at or
    below it (so p50 of an even count is the lower middle value, and p100 the maximum)."""
    if not values:
        raise ValueError("a percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"q must be in (0, 100], not {q}")
    ordered = sorted(values)
    return ordered[math.ceil(q / 100 * len(ordered)) - 1]
