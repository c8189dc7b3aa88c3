"""The images, checked without building them: hadolint, the project's rules for a service image,
the web image's nginx contract, and the build context the root .dockerignore lets in."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

import nginx_site
from harness.deploy_files import BIN, DOCKERFILES, ROOT
from stack import event_store_spec, tool_worker_spec, voice_gateway_spec

HOST_VARIABLES = {
    "event-store": "EVENT_STORE_HOST",
    "tool-worker": "TOOL_WORKER_HOST",
    "voice-gateway": "GATEWAY_HOST",
}
Instructions = list[tuple[str, str]]
PYTHON_SERVICES = ("event-store", "tool-worker", "voice-gateway")
# The command ops/local/stack.py runs for each service (`make run`): the container must run it.
STACK_COMMANDS = {
    "event-store": event_store_spec(1, "redis://x", Path("x.db")).argv,
    "tool-worker": tool_worker_spec(1, "redis://x").argv,
    "voice-gateway": voice_gateway_spec(1, "redis://x").argv,
}


def _args(stage: Instructions, keyword: str) -> list[str]:
    return [rest for kw, rest in stage if kw == keyword]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_finds_nothing(name: str) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", DOCKERFILES[name]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_inline_hadolint_ignores_say_why(name: str) -> None:
    lines = DOCKERFILES[name].read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            reason = lines[number - 1].strip() if number else ""
            assert reason.startswith("#"), f"line {number + 1}: why is it ignored?"
            assert len(reason) > 10, f"line {number + 1}: why is it ignored?"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_service_image_is_multi_stage_from_base_image_with_locked_dependencies(
    name: str, dockerfiles: dict[str, Instructions]
) -> None:
    instructions = dockerfiles[name]
    first_from = next(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    assert "BASE_IMAGE=python:3.11-slim-bookworm" in _args(instructions[:first_from], "ARG")
    froms = _args(instructions, "FROM")
    assert froms[-1] == "${BASE_IMAGE}", "the runtime stage is the base image"
    assert "${BASE_IMAGE} AS build" in froms, "dependencies are built in their own stage"
    package = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())
    syncs = [run for run in _args(instructions, "RUN") if "uv sync" in run]
    assert syncs, "uv sync installs the dependencies"
    for run in syncs:
        assert "--frozen" in run, "exactly the versions in uv.lock"
        assert f"--package {package['project']['name']}" in run, "this service only"
        assert "--no-dev" in run
    assert any("uv.lock" in copy for copy in _args(instructions, "COPY"))
    # uv reads the whole workspace before it installs one package of it: every member's
    # pyproject.toml must be in the image, or `uv sync --frozen` fails on the missing one.
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    copied = _args(instructions, "COPY")
    missing = [m for m in members["members"] if f"{m}/pyproject.toml {m}/" not in copied]
    assert missing == [], f"COPY these workspace members' pyproject.toml: {missing}"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_service_image_runs_the_stack_command_as_a_user_with_a_healthcheck(
    name: str,
    final_stages: dict[str, Instructions],
    image_env: dict[str, dict[str, str]],
    service_ports: dict[str, int],
) -> None:
    stage = final_stages[name]
    (cmd,) = _args(stage, "CMD")
    command = json.loads(cmd)
    assert command == [Path(STACK_COMMANDS[name][0]).name], "the command `make run` runs"
    scripts = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())
    assert command[0] in scripts["project"]["scripts"], "a console script of this package"
    assert image_env[name]["PATH"].startswith("/app/.venv/bin:"), "found in the image's venv"

    (user,) = _args(stage, "USER")
    assert user.isdigit(), "a numeric user: runAsNonRoot can check it"
    assert int(user) > 0, "not root"

    port = service_ports[name]
    assert image_env[name][HOST_VARIABLES[name]] == "0.0.0.0", "reachable from other containers"
    assert _args(stage, "EXPOSE") == [str(port)]
    (healthcheck,) = _args(stage, "HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/readyz" in healthcheck


def test_web_image_builds_the_client_and_serves_it_with_the_project_template(
    dockerfiles: dict[str, Instructions],
    final_stages: dict[str, Instructions],
    image_env: dict[str, dict[str, str]],
) -> None:
    instructions, stage = dockerfiles["nginx"], final_stages["nginx"]
    build_runs = [rest for kw, rest in instructions[: -len(stage)] if kw == "RUN"]
    assert any(run.startswith("npm ci") for run in build_runs), "the locked npm packages"
    assert "npm run build" in build_runs
    assert _args(stage, "FROM") == ["${NGINX_IMAGE}"]
    template = "/etc/nginx/templates/agentic-voice.conf.template"
    copies = _args(stage, "COPY")
    assert f"ops/nginx/agentic-voice.conf.template {template}" in copies
    env = image_env["nginx"]
    assert f"--from=build /web/dist {env['NGINX_WEB_ROOT']}" in copies
    assert any("rm" in run and "conf.d/default.conf" in run for run in _args(stage, "RUN"))

    # The entrypoint's envsubst sees only the template's variables, whatever else is set.
    allowed = re.compile(env["NGINX_ENVSUBST_FILTER"])
    for variable in nginx_site.TEMPLATE_VARIABLES:
        assert allowed.search(variable), variable
        assert variable in env, f"{variable} has a default in the image"
    for other in ("PATH", "HOSTNAME", "HOME", "NGINX_VERSION", "NGINX_PORTS", "XGATEWAY_UPSTREAM"):
        assert not allowed.search(other), other
    (healthcheck,) = _args(stage, "HEALTHCHECK")
    assert f"https://127.0.0.1:{env['NGINX_PORT']}/" in healthcheck


# --- the build context ---------------------------------------------------------------------------


def _ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (excludes, pattern): `*` stays within a path segment, `**` crosses."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        rules.append((exclude, re.compile(regex.replace(r"\?", "[^/]") + "$")))
    return rules


def _in_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or a folder above it decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for exclude, pattern in _ignore_rules():
        if any(pattern.match(candidate) for candidate in candidates):
            included = not exclude
    return included


def test_the_build_context_holds_what_the_images_copy(
    dockerfiles: dict[str, Instructions],
) -> None:
    sources = set()
    for instructions in dockerfiles.values():
        for words in (rest.split() for keyword, rest in instructions if keyword == "COPY"):
            if not words[0].startswith("--from"):
                sources.update(words[:-1])
    assert "uv.lock" in sources
    for source in sorted(sources):
        files = [source] if (ROOT / source).is_file() else _files_under(source)
        assert files, f"{source} exists"
        for file in files:
            assert _in_context(file), f"{file} (COPY {source}) is left out by .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "data/event-store/events.db",
        "data/tls/tls.key",
        ".env",
        "web/node_modules/react/index.js",
        "web/dist/index.html",
        "services/event-store/tests/test_api.py",
        "services/voice-gateway/src/voice_gateway/__pycache__/app.cpython-311.pyc",
        "tests/integration/conftest.py",
        "bench/event_ingest.py",
    ],
)
def test_the_build_context_leaves_out_local_state(path: str) -> None:
    assert not _in_context(path)


# What a copied folder may hold that no image needs: tests, installs, local builds, caches.
NOT_NEEDED = {"tests", "node_modules", "dist", "__pycache__", "Dockerfile"}


def _files_under(folder: str) -> list[str]:
    return [
        str(p.relative_to(ROOT))
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and not NOT_NEEDED & set(p.relative_to(ROOT).parts)
    ]
