"""ops/prometheus: promtool accepts the configuration and the rules, the alert unit tests pass
(they are what prove each expression right), every alert has one that makes it fire, and the
scrape jobs are the compose services on the ports their images listen on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)

from harness.deploy_files import ROOT

PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
UNIT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
SERVICE_JOBS = ("event-store", "tool-worker", "voice-gateway")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(binary).exists(), "apt-get install -y prometheus (scripts/setup.sh)"
    # From the config's folder: rule and test files name each other by relative path.
    return subprocess.run(
        [binary, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, check=False
    )


def _alerts() -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }


def test_promtool_accepts_the_config_and_finds_its_rule_files() -> None:
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout


def test_promtool_accepts_the_rules() -> None:
    assert RULE_FILES
    result = _promtool("check", "rules", *(str(p) for p in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_the_alert_unit_tests_pass() -> None:
    assert UNIT_TESTS
    result = _promtool("test", "rules", *(str(p) for p in UNIT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    fired = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    assert fired == set(_alerts())


@pytest.mark.parametrize(
    ("alert", "must_contain"),
    [
        ("VoiceLatencyHigh", ("0.95", "gateway_voice_latency_seconds_bucket", "> 1.5")),
        ("EventPersistenceLagHigh", ("event_store_persistence_lag_seconds_bucket",)),
        ("ToolCallsFailing", ("tool_worker_tool_calls_total",)),
        ("VoiceSessionsRefused", ("gateway_sessions_refused_total",)),
        ("ServiceDown", ("up{", "== 0")),
    ],
)
def test_the_alerts_on_what_users_feel_exist(alert: str, must_contain: tuple[str, ...]) -> None:
    rule = _alerts()[alert]
    for text in must_contain:
        assert text in rule["expr"]
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]


def test_service_down_covers_every_service_job() -> None:
    expr = _alerts()["ServiceDown"]["expr"]
    for job in SERVICE_JOBS:
        assert job in expr


def test_scrape_jobs_are_the_compose_services_on_their_image_ports(
    service_ports: dict[str, int],
) -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    for job in SERVICE_JOBS:
        assert job in compose["services"]
        assert targets[job] == [f"{job}:{service_ports[job]}"]
    assert config["rule_files"] == ["rules/*.yml"], "relative to the config, in and out of compose"
