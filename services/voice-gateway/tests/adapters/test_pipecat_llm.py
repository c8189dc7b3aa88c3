"""The local brain's LLM service holds a speculative answer's tool call until the turn is
confirmed, and drops it with the speculation; it closes the client Pipecat really uses. Canaries
fail on a Pipecat upgrade that moves either. The model is the fake OpenAI-compatible chat
server, over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    EndFrame,
    Frame,
    LLMContextFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams
from pipecat.tests.utils import QueuedFrameProcessor
from pipecat.workers.runner import WorkerRunner

from fakes.openai_chat import CallTool, FakeChatServer
from harness.waiting import async_wait_until
from voice_gateway.adapters import pipecat_version
from voice_gateway.adapters.pipecat_llm import LocalLLM, self_check
from voice_gateway.adapters.pipecat_version import PipecatMismatch

Step = Frame | Callable[[], Awaitable[bool]]  # a frame to send, or a condition to wait for


def test_the_installed_pipecat_keeps_its_speculation_gate_where_the_adapter_reads_it() -> None:
    self_check()


def test_another_pipecat_version_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipecat_version, "PIPECAT_VERSION", "0.0.1")
    with pytest.raises(PipecatMismatch, match=r"0\.0\.1"):
        self_check()


async def test_the_client_a_session_closes_is_the_one_pipecat_uses() -> None:
    llm = LocalLLM(
        base_url="http://127.0.0.1:9/v1", api_key="none", settings=LocalLLM.Settings(model="m")
    )
    # Canary: Pipecat 1.14 makes its client through the create_client hook; if an upgrade
    # stopped doing so, the sessions would close a client nobody uses and leak the real one.
    assert llm.openai_client is llm._client
    await llm.openai_client.close()
    assert llm.openai_client.is_closed()


@pytest.fixture
def model() -> Iterator[FakeChatServer]:
    with FakeChatServer(scenario=CallTool("send_to_nested", {"text": "write a haiku"})) as server:
        yield server


class Team:
    """The tool the model calls: what it was handed."""

    def __init__(self, llm: LocalLLM) -> None:
        self.tasks: list[str] = []
        llm.register_function("send_to_nested", self._send)

    async def _send(self, params: FunctionCallParams) -> None:
        self.tasks.append(str(params.arguments["text"]))
        await params.result_callback("handed over")


def _asked(speculation: bool) -> LLMContextFrame:
    tool = FunctionSchema("send_to_nested", "Hand a task to the team.", {"text": {}}, ["text"])
    context = LLMContext(
        messages=[{"role": "user", "content": "Ask the team to write a haiku."}],
        tools=ToolsSchema(standard_tools=[tool]),
    )
    return LLMContextFrame(context=context, speculation=speculation)


async def _drive(llm: LocalLLM, steps: list[Step]) -> None:
    """Run `llm` in a pipeline and send it `steps` in order, waiting on the conditions."""
    down = QueuedFrameProcessor(
        queue=asyncio.Queue(), queue_direction=FrameDirection.DOWNSTREAM, ignore_start=True
    )
    up = QueuedFrameProcessor(
        queue=asyncio.Queue(), queue_direction=FrameDirection.UPSTREAM, ignore_start=True
    )
    worker = PipelineWorker(Pipeline([up, llm, down]), cancel_on_idle_timeout=False)
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(_worker: object, _frame: object) -> None:
        started.set()

    async def send() -> None:
        await asyncio.wait_for(started.wait(), timeout=5)
        try:
            for step in steps:
                if isinstance(step, Frame):
                    await worker.queue_frame(step)
                else:
                    await async_wait_until(step, timeout_s=10, what=step.__doc__ or "a step")
        finally:  # a condition never met fails the test, and the pipeline still ends
            await worker.queue_frame(EndFrame())

    runner = WorkerRunner()
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await send()
    finally:  # the pipeline has ended before a failure is reported
        await asyncio.wait_for(running, timeout=10)


def _llm(model: FakeChatServer) -> LocalLLM:
    return LocalLLM(
        base_url=model.url, api_key="none", settings=LocalLLM.Settings(model="fake-local")
    )


async def test_a_speculative_tool_call_waits_for_the_turn_and_then_runs_once(
    model: FakeChatServer,
) -> None:
    llm = _llm(model)
    team = Team(llm)

    async def held() -> bool:
        """the speculative answer's tool call, held"""
        return llm.calls_held == 1

    async def handed_over() -> bool:
        """the held call, run once the turn ended"""
        return team.tasks == ["write a haiku"]

    await _drive(llm, [_asked(speculation=True), held, UserStoppedSpeakingFrame(), handed_over])
    assert team.tasks == ["write a haiku"]
    assert llm.calls_dropped == 0
    await llm.openai_client.close()


async def test_a_withdrawn_speculative_tool_call_never_runs(model: FakeChatServer) -> None:
    llm = _llm(model)
    team = Team(llm)

    async def held() -> bool:
        """the speculative answer's tool call, held"""
        return llm.calls_held == 1 and team.tasks == []

    async def dropped() -> bool:
        """the held call, dropped with its speculation"""
        return llm.calls_dropped == 1

    # The turn's end that follows a withdrawal releases nothing: the model answers it anew.
    steps = [_asked(speculation=True), held, EagerEndOfTurnCancelFrame(), dropped]
    await _drive(llm, [*steps, UserStoppedSpeakingFrame()])
    assert team.tasks == []
    await llm.openai_client.close()


async def test_an_ordinary_answer_runs_its_tool_call_at_once(model: FakeChatServer) -> None:
    llm = _llm(model)
    team = Team(llm)

    async def handed_over() -> bool:
        """the tool call, run as the model asked"""
        return team.tasks == ["write a haiku"]

    await _drive(llm, [_asked(speculation=False), handed_over])
    assert llm.calls_held == 0
    await llm.openai_client.close()
