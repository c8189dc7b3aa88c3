"""Reading one sample of a running service's Prometheus page."""

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
