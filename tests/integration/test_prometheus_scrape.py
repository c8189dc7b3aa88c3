"""A real Prometheus (the Debian package) scrapes the running services with the project's own
scrape jobs and alert rules, and every metric the dashboards and rules use is one a running
service exports.

The services are the real processes (`ops/local/stack.py`), on free ports, with the fake agentic
backend and the fake Realtime server as their peers; one tool call runs first so the labelled
tool metrics have series. Prometheus reads ops/prometheus/prometheus.yml with only the targets
swapped for this run's ports and the intervals shortened.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)
from prometheus_client.parser import text_string_to_metric_families

from contracts import ToolName
from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.redis_server import running_redis
from harness.services import Processes
from harness.tool_calls import dispatcher, job
from harness.waiting import wait_until
from stack import (
    ROOT,
    ProcessSpec,
    event_store_spec,
    free_port,
    http_ready,
    tool_worker_spec,
    voice_gateway_spec,
)

PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
DASHBOARDS = sorted((ROOT / "ops" / "grafana" / "dashboards").glob("*.json"))
SERVICE_JOBS = ("voice-gateway", "event-store", "tool-worker")
# Series Prometheus makes itself: scrape health and alert state.
PROMETHEUS_OWN = {"up", "ALERTS"}
# Series that exist as soon as a service starts (unlabelled), plus the tool call's counter.
KEY_SERIES = {
    "voice-gateway": ("gateway_sessions_active", "gateway_events_published_total"),
    "event-store": ("event_store_events_ingested_total", "event_store_consumer_lag"),
    "tool-worker": (
        'tool_worker_tool_calls_total{tool="send_to_nested",outcome="ok"}',
        "tool_worker_jobs_forwarded_total",
    ),
}


@dataclass
class Scraped:
    services: dict[str, str]  # job -> http://127.0.0.1:port
    prometheus: str  # http://127.0.0.1:port


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local URL
        return json.load(response)


def _query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    body = _get_json(url)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _prometheus_config(targets: dict[str, str], own_port: int) -> dict[str, Any]:
    """The project's config with this run's targets, rules by absolute path, 1 s intervals."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {*SERVICE_JOBS, "prometheus"}, "a scrape job per service"
    for name, target in {**targets, "prometheus": f"127.0.0.1:{own_port}"}.items():
        jobs[name]["static_configs"] = [{"targets": [target]}]
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / pattern) for pattern in config["rule_files"]]
    return config


async def _one_tool_call(redis_url: str) -> None:
    async with dispatcher(redis_url) as tools:
        result = await tools.call(job("scrape-test", ToolName.SEND_TO_NESTED, "hello team"))
        assert result.ok, result


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    prometheus_binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    assert Path(prometheus_binary).exists(), "apt-get install -y prometheus (scripts/setup.sh)"
    tmp = tmp_path_factory.mktemp("scrape")
    processes = Processes(tmp / "logs")
    with (
        running_redis(tmp / "redis") as redis,
        FakeAgenticBackend() as agentic,
        FakeRealtimeServer() as realtime,
    ):
        try:
            specs = {
                "event-store": event_store_spec(free_port(), redis.url, tmp / "events.db"),
                "tool-worker": tool_worker_spec(
                    free_port(), redis.url, extra_env={"AGENTIC_WS_URL": agentic.url}
                ),
                "voice-gateway": voice_gateway_spec(
                    free_port(),
                    redis.url,
                    extra_env={
                        "OPENAI_API_KEY": "test-key",
                        "OPENAI_REALTIME_URL": realtime.url("reply"),
                    },
                ),
            }
            services = {name: processes.start(spec).spec.url for name, spec in specs.items()}
            asyncio.run(_one_tool_call(redis.url))

            port = free_port()
            targets = {name: url.removeprefix("http://") for name, url in services.items()}
            config = tmp / "prometheus.yml"
            config.write_text(yaml.safe_dump(_prometheus_config(targets, port)))
            url = f"http://127.0.0.1:{port}"
            argv = [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            processes.start(ProcessSpec("prometheus", argv, http_ready(f"{url}/-/ready")))
            yield Scraped(services, url)
        finally:
            processes.stop_all()


def test_prometheus_scrapes_every_service_with_the_project_config(scraped: Scraped) -> None:
    def all_up() -> dict[str, str]:
        up = {r["metric"]["job"]: r["value"][1] for r in _query(scraped.prometheus, "up")}
        return up if up == dict.fromkeys([*SERVICE_JOBS, "prometheus"], "1") else {}

    wait_until(all_up, timeout_s=15, what="every target up")
    for job_name, series in KEY_SERIES.items():
        for selector in series:
            with_job = (
                selector.replace("}", f',job="{job_name}"}}')
                if "{" in selector
                else f'{selector}{{job="{job_name}"}}'
            )
            samples = wait_until(
                functools.partial(_query, scraped.prometheus, with_job),
                timeout_s=10,
                what=f"samples of {with_job}",
            )
            assert samples[0]["metric"]["job"] == job_name
    ingested = _query(scraped.prometheus, "event_store_events_ingested_total")
    assert float(ingested[0]["value"][1]) > 0, "the tool call's events reached SQLite"


def test_prometheus_loads_the_alert_rules_and_evaluates_them_cleanly(scraped: Scraped) -> None:
    expected = {
        group["name"]: {rule["alert"] for rule in group["rules"]}
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
    }

    def evaluated() -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = _get_json(f"{scraped.prometheus}/api/v1/rules")["data"][
            "groups"
        ]
        rules = [rule for group in groups for rule in group["rules"]]
        done = rules and all(not r["lastEvaluation"].startswith("0001") for r in rules)
        return groups if done else []

    groups = wait_until(evaluated, timeout_s=15, what="every rule evaluated")
    assert {g["name"]: {r["name"] for r in g["rules"]} for g in groups} == expected
    for rule in (r for g in groups for r in g["rules"]):
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        assert rule.get("lastError", "") == ""
    # A healthy, idle stack: nothing pending or firing (no rule trips on zero traffic).
    alerts = _get_json(f"{scraped.prometheus}/api/v1/alerts")["data"]["alerts"]
    assert alerts == []


# --- the names the dashboards and rules use ----------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A whole name (never a prefix of one) not followed by "(" (a function or aggregation).
_IDENTIFIER = re.compile(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, keywords, label names (inside {} or by/on lists) or Grafana variables."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{?\w+\}?", "0", text)
    text = _RANGE.sub("", _MATCHERS.sub("", text))
    text = _GROUPING.sub("", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def _exported(metrics_text: str) -> set[str]:
    """Series names a /metrics page offers, from its # TYPE lines: prometheus_client prints them
    for every family, labelled families without series yet included."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count")}
    names = set()
    for family in text_string_to_metric_families(metrics_text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return names


def _used_expressions() -> dict[str, str]:
    used = {}
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                used[f"{path.name}: {panel['title']} ({target['refId']})"] = target["expr"]
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                used[f"{path.name}: {rule['alert']}"] = rule["expr"]
    return used


def test_metric_names_are_extracted_from_promql() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, stage) (rate(gateway_turn_stage_seconds_bucket"
        '{stage!="brain", job=~"a|b"}[$__rate_interval]))) > 1.5 and on(job) up == 0 '
        "unless sum without (instance) (x_total offset 5m) / ignoring(kind) y:recorded"
    )
    assert metric_names(expr) == {
        "gateway_turn_stage_seconds_bucket",
        "up",
        "x_total",
        "y:recorded",
    }


def test_dashboards_and_rules_use_only_metrics_the_services_export(scraped: Scraped) -> None:
    exported: set[str] = set()
    for url in scraped.services.values():
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310
            exported |= _exported(response.read().decode())
    used = _used_expressions()
    assert len(used) > 40, "the dashboards and rules were read"
    unknown = {}
    for where, expr in used.items():
        names = metric_names(expr)
        assert names, f"{where} selects no metric: {expr}"
        if missing := names - exported - PROMETHEUS_OWN:
            unknown[where] = sorted(missing)
    assert unknown == {}
