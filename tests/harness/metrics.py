"""Reading a running service's Prometheus page: one sample, or the samples of a few families."""

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def metric(base_url: str, name: str, **labels: str) -> float:
    """The sample `name` with these labels on `base_url`/metrics; 0 when it is not there."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        text = (await http.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def samples(text: str, *names: str) -> dict[str, float]:
    """The samples named `names` in a Prometheus page's `text`, keyed `name{label=value,...}`
    (labels sorted): what a report lists."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}"] = float(sample.value)
    return found
