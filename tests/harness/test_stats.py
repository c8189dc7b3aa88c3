import pytest

from harness.stats import percentile


def test_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2  # the lower middle value
    assert percentile([7.0], 1) == 7


@pytest.mark.parametrize(
    ("values", "q", "why"),
    [([], 50, "no values"), ([1.0], 0, "q must be"), ([1.0], 101, "q must be")],
)
def test_refuses_what_has_no_percentile(values: list[float], q: float, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        percentile(values, q)
