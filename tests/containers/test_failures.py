"""When the stack cannot start, the run says what and where in its first line, and leaves no
container, network or volume behind. Each case is a project of its own, beside the deployed one."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from harness.compose_stack import ComposeError, ComposeStack, docker
from harness.deploy_files import REQUIRED
from stack import free_port

from .conftest import engine_ready


@pytest.fixture
def stack(request: pytest.FixtureRequest) -> Iterator[ComposeStack]:
    engine_ready()
    name = f"avfail{os.getpid()}{request.node.name.split('_')[-1]}"
    made = ComposeStack(
        project=name,
        env={**REQUIRED, "TAG": "latest", "HTTPS_BIND": "127.0.0.1",
             "HTTPS_PORT": str(free_port()), "PROMETHEUS_PORT": str(free_port())},
    )  # fmt: skip
    yield made
    made.down(volumes=True)
    assert _left_behind(name) == [], "the failed run left these behind"


def _left_behind(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    return [
        f"{kind} {name}"
        for kind, listing in (
            ("container", ("ps", "-a", "--format", "{{.Names}}")),
            ("network", ("network", "ls", "--format", "{{.Name}}")),
            ("volume", ("volume", "ls", "--format", "{{.Name}}")),
        )
        for name in docker(*listing[:-2], "--filter", label, *listing[-2:]).split()
    ]


def test_a_port_already_taken_is_named(stack: ComposeStack) -> None:
    port = int(stack.env["PROMETHEUS_PORT"])
    with socket.create_server(("127.0.0.1", port)), pytest.raises(ComposeError) as failed:
        stack.up("prometheus", timeout_s=60)
    first_line = str(failed.value).splitlines()[0]
    assert "prometheus" in first_line, first_line
    assert str(port) in first_line, first_line


def test_a_service_that_never_turns_healthy_is_named_with_its_last_log_lines(
    stack: ComposeStack,
) -> None:
    stack.env["LOG_LEVEL"] = "loud"  # not a level the event-store knows: it refuses to start
    with pytest.raises(ComposeError) as failed:
        stack.up("redis", "event-store", timeout_s=30)
    message = str(failed.value)
    first_line = message.splitlines()[0]
    assert "event-store" in first_line, first_line
    assert "redis (" not in first_line, first_line  # redis came up: not blamed
    # Its own words, from its last log lines: the variable and what it should be.
    assert "EVENT_STORE_LOG_LEVEL: Input should be" in message, message
