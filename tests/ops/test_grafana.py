"""ops/grafana: the provisioned datasource, and dashboards that use it, lay out on Grafana's
grid, compute quantiles the right way, and are the ones build_dashboards.py writes.

Whether their metric names exist is checked against running services in
tests/integration/test_prometheus_scrape.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)

from harness.deploy_files import ROOT

GRAFANA = ROOT / "ops" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
TOPICS = {
    "av-voice-latency": "Voice latency",
    "av-sessions": "Sessions",
    "av-tool-calls": "Tool calls",
    "av-event-store": "Event store",
    "av-errors": "Errors",
}
# A quantile over the rate of a histogram's buckets, summed keeping `le` (and maybe more).
QUANTILE = re.compile(
    r"histogram_quantile\(0?\.\d+, sum by \(le(, \w+)*\) \(rate\(\w+_bucket\[[^\]]+\]\)\)\)"
)


def _dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _datasource_uids() -> set[str]:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    return {source["uid"] for source in provisioned["datasources"]}


def test_the_committed_dashboards_are_what_build_dashboards_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "build_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_one_dashboard_per_topic() -> None:
    dashboards = [_dashboard(path) for path in DASHBOARDS]
    assert {d["uid"]: d["title"].split(" / ")[-1] for d in dashboards} == TOPICS
    for dashboard in dashboards:
        assert dashboard["schemaVersion"] >= 39
        assert dashboard["panels"], dashboard["uid"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_queries_the_provisioned_datasource(path: Path) -> None:
    uids = _datasource_uids()
    assert uids == {"prometheus"}
    for panel in _dashboard(path)["panels"]:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids, panel["title"]
            assert target["expr"].strip(), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_panels_fit_the_grid_without_overlapping(path: Path) -> None:
    panels = _dashboard(path)["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids)
    boxes = [panel["gridPos"] for panel in panels]
    for box in boxes:
        assert box["x"] >= 0, box
        assert box["x"] + box["w"] <= 24, box
    for a, b in combinations(boxes, 2):
        apart_x = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
        apart_y = a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
        assert apart_x or apart_y, (a, b)


def test_quantiles_come_from_bucket_rates_summed_by_le() -> None:
    exprs = [
        target["expr"]
        for path in DASHBOARDS
        for panel in _dashboard(path)["panels"]
        for target in panel["targets"]
    ]
    quantiles = [expr for expr in exprs if "histogram_quantile" in expr]
    assert len(quantiles) > 10
    for expr in quantiles:
        assert QUANTILE.fullmatch(expr), expr


def test_the_voice_latency_dashboard_breaks_a_turn_down_by_stage() -> None:
    dashboard = _dashboard(GRAFANA / "dashboards" / "voice-latency.json")
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert "sum by (le, stage) (rate(gateway_turn_stage_seconds_bucket" in exprs
    assert "gateway_voice_latency_seconds_bucket" in exprs
