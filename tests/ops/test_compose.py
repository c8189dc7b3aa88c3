"""docker-compose.yml, alone and with the Jetson overlay, as Compose v2 resolves it from
.env.example: valid, loud about missing required values, and holding the deployment's rules
(health-gated start order, restart policies, memory limits, volumes, what is published)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)

import nginx_site
from harness.deploy_files import BASE, JETSON, REQUIRED, ROOT

LAYOUTS = {"x86": (BASE,), "jetson": (BASE, JETSON)}
BUILT = ("event-store", "tool-worker", "voice-gateway", "nginx")
SETTINGS = {
    "event-store": "event_store.settings",
    "tool-worker": "tool_worker.settings",
    "voice-gateway": "voice_gateway.settings",
}
GiB = 1024**3

# The fixtures of tests/ops/conftest.py.
Compose = Callable[..., subprocess.CompletedProcess[str]]
ComposeConfig = Callable[..., dict[str, Any]]


@pytest.mark.parametrize("env_file", [".env.example", None], ids=["env-example", "only-required"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_compose_files_validate_without_warnings(
    layout: str, env_file: str | None, compose: Compose
) -> None:
    result = compose(
        "config",
        "-q",
        files=LAYOUTS[layout],
        env=REQUIRED,
        env_file=ROOT / env_file if env_file else None,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "no variable left blank, no obsolete key"


def _required_variables() -> set[str]:
    text = (ROOT / BASE).read_text() + (ROOT / JETSON).read_text()
    return set(re.findall(r"\$\{(\w+):?\?", text))


def test_the_required_values_are_the_ones_env_example_asks_for() -> None:
    assert _required_variables() == set(REQUIRED)
    example = (ROOT / ".env.example").read_text()
    for name in REQUIRED:
        assert re.search(rf"^# REQUIRED: .*\n{name}=$", example, re.MULTILINE), name


@pytest.mark.parametrize("name", sorted(REQUIRED))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_missing_required_value_fails_loudly_and_names_it(
    name: str, layout: str, compose: Compose
) -> None:
    others = {k: v for k, v in REQUIRED.items() if k != name}
    result = compose(
        "config", "-q", files=LAYOUTS[layout], env=others, env_file=ROOT / ".env.example"
    )
    assert result.returncode != 0
    assert name in result.stderr
    assert ".env" in result.stderr, "the message says where to set it"


def _documented() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=", line))}


def _referenced() -> set[str]:
    """Variables the compose files interpolate, and the bare names they pass through."""
    names = set()
    for file in (BASE, JETSON):
        text = (ROOT / file).read_text()
        names |= set(re.findall(r"\$\{(\w+)", text))
        for service in yaml.safe_load(text)["services"].values():
            environment = service.get("environment", [])
            if isinstance(environment, list):
                names |= {entry for entry in environment if "=" not in entry}
    return names


def test_every_variable_is_in_env_example_and_nothing_else() -> None:
    assert _referenced() == _documented()


def _has_healthcheck(name: str, service: dict[str, Any]) -> bool:
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    dockerfile = service.get("build", {}).get("dockerfile")
    return bool(dockerfile) and "\nHEALTHCHECK " in (ROOT / dockerfile).read_text()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_service_restarts_has_a_memory_limit_swap_included_and_a_healthcheck(
    layout: str, compose_config: ComposeConfig
) -> None:
    services = compose_config(*LAYOUTS[layout])["services"]
    assert set(services) == {*BUILT, "redis", "prometheus", "grafana"}
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert 0 < int(service["mem_limit"]) <= 2 * GiB, name
        # Swap counted in the limit: otherwise a container may use as much swap again.
        assert service["memswap_limit"] == service["mem_limit"], name
        assert _has_healthcheck(name, service), name


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_services_start_once_what_they_need_is_healthy(
    layout: str, compose_config: ComposeConfig
) -> None:
    services = compose_config(*LAYOUTS[layout])["services"]
    expected = {
        "event-store": {"redis"},
        "tool-worker": {"redis"},
        "voice-gateway": {"redis", "tool-worker"},
        "nginx": {"voice-gateway", "event-store"},
        "grafana": {"prometheus"},
    }
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) == expected.get(name, set()), name
        for dependency, how in depends.items():
            assert how["condition"] == "service_healthy", (name, dependency)
            assert _has_healthcheck(dependency, services[dependency])


def _volume(service: dict[str, Any], target: str) -> dict[str, Any]:
    (volume,) = [v for v in service["volumes"] if v["target"] == target]
    return dict(volume)


def test_state_lives_on_named_volumes(
    compose_config: ComposeConfig, image_env: dict[str, dict[str, str]]
) -> None:
    services = compose_config()["services"]
    redis = services["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    db_dir = str(Path(image_env["event-store"]["EVENT_STORE_DB_PATH"]).parent)
    for name, target in [
        ("redis", "/data"),
        ("event-store", db_dir),
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
    ]:
        assert _volume(services[name], target)["type"] == "volume", name


def test_only_nginx_is_published_beyond_the_hosts_loopback(compose_config: ComposeConfig) -> None:
    services = compose_config()["services"]
    published = {
        name: [(p["host_ip"], p["target"]) for p in service.get("ports", [])]
        for name, service in services.items()
    }
    assert published == {
        "nginx": [("0.0.0.0", 8443)],
        "prometheus": [("127.0.0.1", 9090)],
        "grafana": [("127.0.0.1", 3000)],
        "redis": [],
        "event-store": [],
        "tool-worker": [],
        "voice-gateway": [],
    }
    assert services["nginx"]["ports"][0]["published"] == "8443"
    moved = compose_config(env={"HTTPS_PORT": "443"})["services"]["nginx"]["ports"][0]
    assert (moved["published"], moved["target"]) == ("443", 8443)


def test_nginx_renders_the_template_with_the_services_and_the_mounted_certificate(
    compose_config: ComposeConfig, service_ports: dict[str, int]
) -> None:
    nginx = compose_config()["services"]["nginx"]
    env = nginx["environment"]
    template = nginx_site.TEMPLATE.read_text()
    assert set(re.findall(r"\$\{(\w+)\}", template)) == set(nginx_site.TEMPLATE_VARIABLES)
    assert set(env) == set(nginx_site.TEMPLATE_VARIABLES)
    assert env["NGINX_PORT"] == str(service_ports["nginx"]) == "8443"
    assert env["GATEWAY_UPSTREAM"] == f"voice-gateway:{service_ports['voice-gateway']}"
    assert env["EVENT_STORE_UPSTREAM"] == f"event-store:{service_ports['event-store']}"
    tls = _volume(nginx, "/etc/nginx/tls")
    assert (tls["type"], tls["source"], tls["read_only"]) == ("bind", str(ROOT / "data/tls"), True)
    assert env["NGINX_TLS_CERT"] == "/etc/nginx/tls/tls.crt"
    assert env["NGINX_TLS_KEY"] == "/etc/nginx/tls/tls.key"
    # Upstream names are resolved at start: nginx restarts when compose recreates a service.
    assert {name: d.get("restart") for name, d in nginx["depends_on"].items()} == {
        "voice-gateway": True,
        "event-store": True,
    }


def test_prometheus_and_grafana_read_the_repositorys_configuration(
    compose_config: ComposeConfig,
) -> None:
    services = compose_config()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert _volume(prometheus, "/etc/prometheus")["source"] == str(ROOT / "ops/prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    provisioning = _volume(grafana, "/etc/grafana/provisioning")
    assert provisioning["source"] == str(ROOT / "ops/grafana/provisioning")
    provider = yaml.safe_load(
        (ROOT / "ops/grafana/provisioning/dashboards/agentic-voice.yml").read_text()
    )["providers"][0]
    dashboards = _volume(grafana, provider["options"]["path"])
    assert dashboards["source"] == str(ROOT / "ops/grafana/dashboards")
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    relative = Path(home).relative_to(provider["options"]["path"])
    assert (ROOT / "ops/grafana/dashboards" / relative).is_file()
    assert (
        grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == REQUIRED["GRAFANA_ADMIN_PASSWORD"]
    )


def test_the_jetson_overlay_builds_arm64_l4t_images_within_a_small_boards_memory(
    compose_config: ComposeConfig,
) -> None:
    x86 = compose_config(BASE)["services"]
    jetson = compose_config(BASE, JETSON)["services"]
    gateway = jetson["voice-gateway"]
    assert gateway["runtime"] == "nvidia"
    assert gateway["build"]["args"]["BASE_IMAGE"].startswith("nvcr.io/nvidia/l4t-jetpack:r36")
    assert gateway["environment"]["NVIDIA_VISIBLE_DEVICES"] == "all"
    assert (
        compose_config(BASE, JETSON, env={"GATEWAY_RUNTIME": "runc"})["services"]["voice-gateway"][
            "runtime"
        ]
        == "runc"
    )
    for name in BUILT:
        assert jetson[name]["platform"] == "linux/arm64", name
    for name, service in jetson.items():
        assert int(service["mem_limit"]) <= int(x86[name]["mem_limit"]), name
    # What stays for the OS, the agentic backend (and on 8 GB a local LLM) on a 4 GB board.
    total = sum(int(service["mem_limit"]) for service in jetson.values())
    assert total <= 2.5 * GiB
    assert "runtime" not in x86["voice-gateway"]


def _container_env(
    name: str, compose_env: dict[str, str | None], image_env: dict[str, str]
) -> dict[str, str]:
    """What the process sees: the image's ENV, then compose's values (unset ones stay unset)."""
    env = {k: v for k, v in image_env.items() if k != "PATH"}
    env.update({k: v for k, v in compose_env.items() if v is not None})
    return env


OPTIONAL_VALUES = {
    "VOICE_BRAIN": "local",
    "OPENAI_API_KEY": "sk-test",
    "LLM_BASE_URL": "http://host.docker.internal:11434/v1",
    "LLM_API_KEY": "llm-key",
    "GATEWAY_TOKEN": "a-shared-secret",
    "GATEWAY_ALLOWED_ORIGINS": "https://jetson.local:8443,https://192.168.1.20:8443",
}


@pytest.mark.parametrize("optional", ["as in .env.example", "every optional value set"])
@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_service_accepts_the_environment_compose_gives_it(
    name: str, optional: str, compose_config: ComposeConfig, image_env: dict[str, dict[str, str]]
) -> None:
    extra = OPTIONAL_VALUES if optional.startswith("every") else {}
    service = compose_config(BASE, JETSON, env=extra)["services"][name]
    env = _container_env(name, service["environment"], image_env[name])
    if extra and name == "voice-gateway":
        assert env["VOICE_BRAIN"] == "local"
        assert env["LLM_BASE_URL"] == extra["LLM_BASE_URL"]
    result = subprocess.run(
        [sys.executable, "-c", f"from {SETTINGS[name]} import Settings; print(Settings())"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
