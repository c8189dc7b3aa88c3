"""A Prometheus page's samples, by the families asked for, keyed with their labels."""

from harness.metrics import samples

PAGE = """# HELP gateway_speculative_answers_total Answers started early.
# TYPE gateway_speculative_answers_total counter
gateway_speculative_answers_total{outcome="started"} 3.0
gateway_speculative_answers_total{outcome="confirmed"} 2.0
# TYPE gateway_early_decodes_total counter
gateway_early_decodes_total{stage="turn",outcome="used"} 5.0
# TYPE gateway_sessions gauge
gateway_sessions 1.0
"""


def test_the_families_asked_for_come_back_keyed_by_sorted_labels() -> None:
    assert samples(PAGE, "gateway_speculative_answers_total", "gateway_early_decodes_total") == {
        "gateway_speculative_answers_total{outcome=started}": 3.0,
        "gateway_speculative_answers_total{outcome=confirmed}": 2.0,
        "gateway_early_decodes_total{outcome=used,stage=turn}": 5.0,
    }
