"""Fixtures for the fault tests: the whole stack as real processes, built to be killed."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import FakeRealtimeServer
from harness.fault_stack import FaultStack, MakeStack


@pytest.fixture
def make_stack(
    tmp_path: Path, realtime: FakeRealtimeServer, agentic: FakeAgenticBackend
) -> Iterator[MakeStack]:
    """`make_stack(scenario="reply", gateway_env=..., worker_env=...)`: started; stopped after
    the test."""
    stacks: list[FaultStack] = []

    def make(**options: object) -> FaultStack:
        stack = FaultStack(tmp_path, realtime, agentic, **options)  # type: ignore[arg-type]
        stacks.append(stack)
        stack.start()
        return stack

    yield make
    for stack in stacks:
        stack.stop()
