"""The five voice tools as the model sees them, dispatched to the tool-worker.

`ToolCaller` is how any brain calls one: the browser and the event log hear about the call and
its result. `register_tools` hands the five to an LLM service as function calls.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pydantic import BaseModel

from contracts import ConversationEvent, ToolJob, ToolName, ToolResult, new_event_id
from contracts.browser import FunctionCall, FunctionResult
from voice_gateway.metrics import TOOL_DISPATCH_SECONDS
from voice_gateway.tools.dispatch import ToolDispatcher

_TEXT = {"text": {"type": "string", "description": "What to pass on, in the user's words"}}

TOOL_SCHEMAS = ToolsSchema(
    standard_tools=[
        FunctionSchema(
            name=ToolName.SEND_TO_NESTED,
            description="Hand a task or a message to the agent team. The team works in the "
            "background and reports back; tell the user it was handed over.",
            properties=_TEXT,
            required=["text"],
        ),
        FunctionSchema(
            name=ToolName.SEND_TO_CLAUDE_CODE,
            description="Give Claude Code an instruction (coding work on the project).",
            properties=_TEXT,
            required=["text"],
        ),
        FunctionSchema(
            name=ToolName.PAUSE,
            description="Stop what the agent team is doing right now.",
            properties={},
            required=[],
        ),
        FunctionSchema(
            name=ToolName.RESET,
            description="Start over with the agent team: it forgets the conversation so far.",
            properties={},
            required=[],
        ),
        FunctionSchema(
            name=ToolName.PAUSE_CLAUDE_CODE,
            description="Stop what Claude Code is doing right now.",
            properties={},
            required=[],
        ),
    ]
)

ToClient = Callable[[BaseModel], Any]
Publish = Callable[[ConversationEvent], Any]


@dataclass
class ToolCaller:
    """One session's way to call a tool, whichever brain decided to: the browser and the event
    log hear about the call and its result; the worker does the work.

    It also knows whether a call is in flight (`idle`): the team's progress must not reach a
    model whose context still holds a tool call without its result. A chat API refuses such a
    context, and a run that ends that fast would be summed up before "I've handed that over".
    """

    dispatcher: ToolDispatcher
    conversation_id: str
    deadline_s: float
    to_client: ToClient
    publish: Publish
    _in_flight: int = field(default=0, init=False)
    _idle: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self._idle.set()

    @contextlib.asynccontextmanager
    async def busy(self) -> AsyncIterator[None]:
        """A tool call in flight, until its result is in the model's hands."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def idle(self) -> None:
        """Return once no tool call is in flight."""
        await self._idle.wait()

    async def call(self, name: ToolName, arguments: dict[str, Any]) -> ToolResult:
        async with self.busy():
            return await self._call(name, arguments)

    async def _call(self, name: ToolName, arguments: dict[str, Any]) -> ToolResult:
        call_id = new_event_id()
        await self.to_client(FunctionCall(call_id=call_id, name=name, arguments=arguments))
        self._event("function_call", call_id=call_id, name=name, arguments=arguments)
        started = time.perf_counter()
        job = ToolJob(
            call_id=call_id,
            conversation_id=self.conversation_id,
            name=name,
            arguments=arguments,
            deadline_s=self.deadline_s,
        )
        result = await self.dispatcher.call(job)
        TOOL_DISPATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
        await self.to_client(
            FunctionResult(call_id=call_id, name=name, ok=result.ok, result=result.message)
        )
        self._event(
            "function_result",
            call_id=call_id,
            name=name,
            ok=result.ok,
            result=result.message,
            error_kind=result.error_kind,
            detail=result.detail,
        )
        return result

    def _event(self, type_: str, **payload: Any) -> None:
        self.publish(
            ConversationEvent(
                conversation_id=self.conversation_id, source="voice", type=type_, payload=payload
            )
        )


def register_tools(llm: LLMService[Any], caller: ToolCaller) -> None:
    """The five tools as function calls of an LLM service (Realtime or chat)."""

    async def handle(params: FunctionCallParams) -> None:
        async with caller.busy():  # until the result is handed to the model
            result = await caller.call(ToolName(params.function_name), dict(params.arguments))
            await params.result_callback(result.message)

    for tool in ToolName:
        # The worker enforces the deadline; Pipecat's own timeout is a backstop beyond it.
        llm.register_function(
            tool.value, handle, cancel_on_interruption=False, timeout_secs=caller.deadline_s + 5
        )
