"""The five voice tools as the model sees them, dispatched to the tool-worker.

The handler answers the model with the worker's spoken result, and tells the browser and the
event log about the call and its result.
"""

import time
from collections.abc import Callable
from typing import Any

from pipecat.adapters.schemas.function_schema import FunctionSchema
from pipecat.adapters.schemas.tools_schema import ToolsSchema
from pipecat.services.llm_service import FunctionCallParams, LLMService
from pydantic import BaseModel

from contracts import ConversationEvent, ToolJob, ToolName, new_event_id
from contracts.browser import FunctionCall, FunctionResult
from voice_gateway.metrics import TOOL_DISPATCH_SECONDS
from voice_gateway.tool_dispatch import ToolDispatcher

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


def register_tools(
    llm: LLMService[Any],
    dispatcher: ToolDispatcher,
    *,
    conversation_id: str,
    deadline_s: float,
    to_client: ToClient,
    publish: Publish,
) -> None:
    async def handle(params: FunctionCallParams) -> None:
        call_id = new_event_id()
        name = ToolName(params.function_name)
        arguments = dict(params.arguments)
        await to_client(FunctionCall(call_id=call_id, name=name, arguments=arguments))
        publish(
            _event(
                conversation_id, "function_call", call_id=call_id, name=name, arguments=arguments
            )
        )
        started = time.perf_counter()
        job = ToolJob(
            call_id=call_id,
            conversation_id=conversation_id,
            name=name,
            arguments=arguments,
            deadline_s=deadline_s,
        )
        result = await dispatcher.call(job)
        TOOL_DISPATCH_SECONDS.labels(name).observe(time.perf_counter() - started)
        await to_client(
            FunctionResult(call_id=call_id, name=name, ok=result.ok, result=result.message)
        )
        publish(
            _event(
                conversation_id,
                "function_result",
                call_id=call_id,
                name=name,
                ok=result.ok,
                result=result.message,
                error_kind=result.error_kind,
            )
        )
        await params.result_callback(result.message)

    for tool in ToolName:
        # The worker enforces the deadline; Pipecat's own timeout is a backstop beyond it.
        llm.register_function(
            tool.value, handle, cancel_on_interruption=False, timeout_secs=deadline_s + 5
        )


def _event(conversation_id: str, type_: str, **payload: Any) -> ConversationEvent:
    return ConversationEvent(
        conversation_id=conversation_id, source="voice", type=type_, payload=payload
    )
