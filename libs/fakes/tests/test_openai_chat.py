"""The fake OpenAI-compatible chat server, driven by the real `openai` client, by raw HTTP (the
exact wire format) and by Pipecat's `OpenAILLMService`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
    ChatCompletionToolChoiceOptionParam,
    ChatCompletionUserMessageParam,
)
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import LLMContextFrame, LLMTextFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import run_test

from fakes.openai_chat import (
    CLAUDE_TOOL,
    DEFAULT_TEXT,
    RUNNING_TEXT,
    SUMMARY_TEXT,
    TEAM_TOOL,
    CallTool,
    CallTools,
    Fail,
    FakeChatServer,
    RecordedRequest,
    Say,
    Script,
    default_scenario,
)

MODEL = "llama3.2"
TEAM_ASK = "Please ask the team to write a haiku about the sea."
TOOL_NAMES = [TEAM_TOOL, CLAUDE_TOOL, "pause", "reset", "pause_claude_code"]
TEXT_PARAMS: dict[str, object] = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}
NO_PARAMS: dict[str, object] = {"type": "object", "properties": {}, "required": []}
TOOLS: list[ChatCompletionFunctionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} tool.",
            "parameters": TEXT_PARAMS if name in (TEAM_TOOL, CLAUDE_TOOL) else NO_PARAMS,
        },
    }
    for name in TOOL_NAMES
]
Message = ChatCompletionMessageParam


def user(text: str) -> ChatCompletionUserMessageParam:
    return {"role": "user", "content": text}


@pytest.fixture
async def fake() -> AsyncIterator[FakeChatServer]:
    async with FakeChatServer() as server:
        yield server
    assert server.errors() == []


@pytest.fixture
async def client(fake: FakeChatServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="sk-local", max_retries=0) as c:
        yield c


async def stream(
    client: openai.AsyncOpenAI,
    messages: list[Message],
    tools: list[ChatCompletionFunctionToolParam] | openai.Omit = openai.omit,
    tool_choice: ChatCompletionToolChoiceOptionParam | openai.Omit = openai.omit,
) -> list[ChatCompletionChunk]:
    chunks = await client.chat.completions.create(
        model=MODEL,
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        tools=tools,
        tool_choice=tool_choice,
    )
    return [chunk async for chunk in chunks]


def content(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def assembled_calls(chunks: list[ChatCompletionChunk]) -> list[dict[str, str]]:
    """Tool calls put together as a client does: by `index`, arguments concatenated."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
    return [calls[i] for i in sorted(calls)]


# --- streaming, through the openai client ---------------------------------------------------


async def test_streamed_text(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    chunks = await stream(client, [user("Hello there")])
    assert content(chunks) == DEFAULT_TEXT
    choice_chunks = [c for c in chunks if c.choices]
    assert choice_chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in choice_chunks[1:])
    pieces = [c.choices[0].delta.content for c in choice_chunks if c.choices[0].delta.content]
    assert len(pieces) == len(DEFAULT_TEXT.split())  # one word a chunk
    assert [c.choices[0].finish_reason for c in choice_chunks] == [None] * (
        len(choice_chunks) - 1
    ) + ["stop"]
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-")
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert {c.model for c in chunks} == {MODEL}
    assert all(isinstance(c.created, int) and c.created > 0 for c in chunks)
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.completion_tokens == len(pieces)
    assert usage_chunk.usage.prompt_tokens > 0
    assert usage_chunk.usage.total_tokens == (
        usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens
    )
    assert all(c.usage is None for c in chunks[:-1])

    request = await fake.async_wait_for_completion()
    assert request.body["messages"] == [user("Hello there")]
    assert request.stream
    assert request.include_usage
    assert request.model == MODEL
    assert request.status == 200
    assert request.done_sent
    assert not request.aborted
    assert request.text_sent == DEFAULT_TEXT
    assert request.headers["Authorization"] == "<redacted>"
    assert "sk-local" not in json.dumps(request.headers)


async def test_streamed_tool_call_assembles(
    fake: FakeChatServer, client: openai.AsyncOpenAI
) -> None:
    chunks = await stream(client, [user(TEAM_ASK)], tools=TOOLS)
    assert content(chunks) == ""
    [call] = assembled_calls(chunks)
    assert call["name"] == TEAM_TOOL
    assert call["id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"text": "write a haiku about the sea."}
    first = chunks[0].choices[0].delta
    assert first.role == "assistant"
    assert first.tool_calls is not None
    assert first.tool_calls[0].type == "function"
    assert first.tool_calls[0].function is not None
    assert first.tool_calls[0].function.arguments == ""
    argument_chunks = [c for c in chunks[1:] if c.choices and c.choices[0].delta.tool_calls]
    assert len(argument_chunks) > 3  # the JSON string arrives in pieces
    for chunk in argument_chunks:  # later pieces: the index and arguments only
        [piece] = chunk.choices[0].delta.tool_calls or []
        assert (piece.index, piece.id, piece.type) == (0, None, None)
        assert piece.function is not None
        assert piece.function.name is None
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0

    request = await fake.async_wait_for_completion()
    assert request.tool_names == TOOL_NAMES
    assert request.tool_calls_sent == [
        CallTool(TEAM_TOOL, {"text": "write a haiku about the sea."}, call["id"])
    ]


async def test_a_tool_result_gets_its_answer(
    fake: FakeChatServer, client: openai.AsyncOpenAI
) -> None:
    [call] = assembled_calls(await stream(client, [user(TEAM_ASK)], tools=TOOLS))
    messages: list[Message] = [
        user(TEAM_ASK),
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
            ],
        },
        # Pipecat sends a result JSON-encoded: the default scenario decodes a JSON string.
        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps("The team has it.")},
    ]
    assert content(await stream(client, messages, tools=TOOLS)) == "Done: The team has it."
    first, second = fake.completions()
    assert second.tool_messages()[0]["tool_call_id"] == first.tool_calls_sent[0].id


async def test_claude_code_and_tools_not_offered(client: openai.AsyncOpenAI) -> None:
    [call] = assembled_calls(
        await stream(client, [user("Tell Claude Code to fix the failing test")], tools=TOOLS)
    )
    assert call["name"] == CLAUDE_TOOL
    assert json.loads(call["arguments"]) == {"text": "fix the failing test"}
    [call] = assembled_calls(await stream(client, [user("What is Claude up to?")], tools=TOOLS))
    assert json.loads(call["arguments"]) == {"text": "What is Claude up to?"}
    # No tools offered, or tool_choice "none": text instead.
    assert content(await stream(client, [user(TEAM_ASK)])) == DEFAULT_TEXT
    only_claude = [t for t in TOOLS if t["function"]["name"] == CLAUDE_TOOL]
    assert content(await stream(client, [user(TEAM_ASK)], tools=only_claude)) == DEFAULT_TEXT
    chunks = await stream(client, [user(TEAM_ASK)], tools=TOOLS, tool_choice="none")
    assert content(chunks) == DEFAULT_TEXT


async def test_parallel_tool_calls(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    fake.scenario = CallTools((CallTool("pause"), CallTool(TEAM_TOOL, {"text": "stop"})))
    chunks = await stream(client, [user("stop everything")], tools=TOOLS)
    calls = assembled_calls(chunks)
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("pause", {}),
        (TEAM_TOOL, {"text": "stop"}),
    ]
    assert len({c["id"] for c in calls}) == 2


# --- not streaming --------------------------------------------------------------------------


async def test_not_streamed(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(model=MODEL, messages=[user("hi")])
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    [choice] = completion.choices
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == DEFAULT_TEXT
    assert choice.message.tool_calls is None
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )

    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[user(TEAM_ASK)],
        tools=TOOLS,
        stream=False,
    )
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == TEAM_TOOL
    assert json.loads(call.function.arguments) == {"text": "write a haiku about the sea."}
    assert not fake.completions()[-1].stream


# --- errors ---------------------------------------------------------------------------------


async def test_fail_with_status_surfaces_as_the_clients_exception(
    fake: FakeChatServer, client: openai.AsyncOpenAI
) -> None:
    fake.fail_with_status = 500
    with pytest.raises(openai.InternalServerError) as raised:
        await stream(client, [user("hi")])
    assert raised.value.status_code == 500
    assert raised.value.type == "server_error"
    assert raised.value.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    fake.fail_with_status = None
    fake.scenario = Fail(429)
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model=MODEL, messages=[user("hi")])
    assert limited.value.code == "rate_limit_exceeded"
    assert [r.status for r in fake.completions()] == [500, 429]


async def test_x_should_retry_false_stops_the_clients_retries(fake: FakeChatServer) -> None:
    fake.scenario = Fail(503, retry=False)
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="x") as client:  # 2 retries
        with pytest.raises(openai.APIStatusError) as raised:
            await stream(client, [user("hi")])
    assert raised.value.status_code == 503
    assert len(fake.completions()) == 1


async def test_a_required_key(fake: FakeChatServer) -> None:
    fake.api_key = "sk-right"
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="sk-wrong", max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError) as raised:
            await stream(c, [user("hi")])
        assert raised.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            await c.models.list()
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="sk-right", max_retries=0) as c:
        assert content(await stream(c, [user("hi")])) == DEFAULT_TEXT
    assert [r.status for r in fake.requests()] == [401, 401, 200]
    assert all(r.headers["Authorization"] == "<redacted>" for r in fake.requests())


async def raw_post(fake: FakeChatServer, data: str | bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.url + "/chat/completions",
            data=data,
            headers={"Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("{not json", "could not parse the JSON body"),
        (json.dumps({"model": MODEL}), "Missing required parameter: 'messages'"),
        (json.dumps({"model": MODEL, "messages": []}), "non-empty array"),
        (json.dumps({"messages": [user("hi")]}), "you must provide a model parameter"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (
            json.dumps({"model": MODEL, "messages": [{"role": "tool", "tool_call_id": "c"}]}),
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            json.dumps(
                {
                    "model": MODEL,
                    "messages": [
                        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]},
                        user("hi"),
                    ],
                }
            ),
            "did not have response messages: c1",
        ),
    ],
)
async def test_bad_bodies_get_400(fake: FakeChatServer, data: str, needle: str) -> None:
    status, body = await raw_post(fake, data)
    assert status == 400
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert needle in body["error"]["message"]
    assert (body["error"]["type"], body["error"]["param"], body["error"]["code"]) == (
        "invalid_request_error",
        None,
        None,
    )
    [request] = fake.requests()
    assert request.status == 400
    assert request.body_text == data


async def test_bad_body_through_the_client(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model=MODEL, messages=[])


# --- the wire, byte for byte; models; other paths -------------------------------------------


async def test_the_raw_event_stream(fake: FakeChatServer) -> None:
    body = {"model": MODEL, "messages": [user("Hi")], "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(fake.url + "/chat/completions", json=body) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        raw = (await response.read()).decode()
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(e.startswith("data: ") and "\n" not in e for e in events[:-1])
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks[0] == {
        "id": chunks[0]["id"],
        "object": "chat.completion.chunk",
        "created": chunks[0]["created"],
        "model": MODEL,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        ],
    }
    assert chunks[1]["choices"][0]["delta"] == {"content": "I"}
    assert chunks[2]["choices"][0]["delta"] == {"content": " can"}
    assert chunks[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert all("usage" not in c for c in chunks)  # only with stream_options.include_usage


async def test_models(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [
        ("fake-local-model", "model", "fake")
    ]
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake.url + "/models") as response,
    ):
        assert await response.json() == {
            "object": "list",
            "data": [
                {"id": "fake-local-model", "object": "model", "created": 0, "owned_by": "fake"}
            ],
        }
        async with session.get(fake.url + "/embeddings") as missing:
            assert missing.status == 404
            assert (await missing.json())["error"]["message"] == "Invalid URL (GET /v1/embeddings)"
    assert [r.path for r in fake.requests()] == ["/v1/models", "/v1/models", "/v1/embeddings"]


# --- scenarios, delays, disconnects ---------------------------------------------------------


async def test_a_script_and_a_callable(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    seen: list[RecordedRequest] = []

    def echo(request: RecordedRequest) -> Say:
        seen.append(request)
        return Say(f"You said {request.last_user_text}")

    fake.scenario = Script(Say("one"), CallTool("reset"), echo)
    assert content(await stream(client, [user("a")], tools=TOOLS)) == "one"
    [call] = assembled_calls(await stream(client, [user("b")], tools=TOOLS))
    assert (call["name"], call["arguments"]) == ("reset", "{}")
    assert content(await stream(client, [user("c")])) == "You said c"
    assert content(await stream(client, [user("d")])) == "You said d"  # the last one repeats
    assert [r.index for r in seen] == [2, 3]


async def test_a_failing_scenario_is_a_500_and_an_error_of_the_fake() -> None:
    def broken(request: RecordedRequest) -> Say:
        raise ValueError("scenario bug")

    async with (
        FakeChatServer(scenario=broken) as fake,
        openai.AsyncOpenAI(base_url=fake.url, api_key="x", max_retries=0) as client,
    ):
        with pytest.raises(openai.InternalServerError):
            await stream(client, [user("hi")])
        fake.scenario = Fail(404, "No such model here.", code="model_not_found", retry=False)
        with pytest.raises(openai.NotFoundError) as raised:
            await stream(client, [user("hi")])
    assert raised.value.body == {
        "message": "No such model here.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    assert [str(e) for e in fake.errors()] == ["scenario bug"]


async def test_malformed_arguments_are_sent_as_given(
    fake: FakeChatServer, client: openai.AsyncOpenAI
) -> None:
    fake.scenario = CallTool(TEAM_TOOL, '{"text": "unterminated')
    [call] = assembled_calls(await stream(client, [user("x")], tools=TOOLS))
    assert call["arguments"] == '{"text": "unterminated'


async def test_delays(fake: FakeChatServer, client: openai.AsyncOpenAI) -> None:
    fake.first_token_delay_s, fake.chunk_delay_s = 0.3, 0.02
    started = time.monotonic()
    chunks = await client.chat.completions.create(model=MODEL, messages=[user("hi")], stream=True)
    first = await anext(aiter(chunks))
    first_at = time.monotonic() - started
    rest = [c async for c in chunks]
    total = time.monotonic() - started
    assert first.choices[0].delta.role == "assistant"
    assert 0.3 <= first_at < 2.0
    assert total >= 0.3 + 0.02 * len(rest)


async def test_a_client_gone_mid_stream_is_recorded(
    fake: FakeChatServer, client: openai.AsyncOpenAI
) -> None:
    fake.chunk_delay_s = 0.05
    chunks = await client.chat.completions.create(model=MODEL, messages=[user("hi")], stream=True)
    await anext(aiter(chunks))
    await chunks.close()
    request = await fake.async_wait_for_completion()
    assert request.aborted
    assert not request.done_sent
    assert 0 < len(request.sent) < len(DEFAULT_TEXT.split()) + 2


async def test_closing_abandons_a_slow_answer() -> None:
    fake = FakeChatServer(first_token_delay_s=60)
    await fake.start()
    async with openai.AsyncOpenAI(base_url=fake.url, api_key="x", max_retries=0) as client:
        task = asyncio.create_task(stream(client, [user("hi")]))
        await fake.async_wait_for(lambda: fake.completions(), what="a request")
        started = time.monotonic()
        await fake.aclose()
        assert time.monotonic() - started < 1.5
        with pytest.raises(openai.APIConnectionError):  # dropped, as by a dying server
            await task
    [request] = fake.requests()
    assert request.aborted
    assert request.finished
    assert request.sent == []


def test_default_scenario_reads_pipecats_async_tool_messages() -> None:
    def reply(*messages: Any) -> object:
        body = {"model": MODEL, "messages": list(messages), "tools": TOOLS}
        return default_scenario(RecordedRequest(0, "POST", "/v1/chat/completions", {}, body))

    started = {"type": "async_tool", "status": "running", "tool_call_id": "c", "description": ""}
    finished = {**started, "status": "finished", "result": json.dumps("Haiku written.")}
    call = {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}
    running = {"role": "tool", "tool_call_id": "c", "content": json.dumps(started)}
    assert reply(user(TEAM_ASK), call, running) == Say(RUNNING_TEXT)
    final = {"role": "developer", "content": json.dumps(finished)}
    assert reply(user(TEAM_ASK), call, running, final) == Say("Done: Haiku written.")
    assert reply(user(TEAM_ASK), {"role": "developer", "content": "Be brief."}) == CallTool(
        TEAM_TOOL, {"text": "write a haiku about the sea."}
    )
    plain = {"role": "tool", "tool_call_id": "c", "content": '{"ok": true}'}
    assert reply(user(TEAM_ASK), call, plain) == Say('Done: {"ok": true}')


def test_default_scenario_reads_past_progress_lines() -> None:
    """A team's progress line may land between a tool call and the model reading its result
    (the team starts before the gateway hands the result back): the model reads the result, and
    the line's "TEAM" is not the user asking for the team again."""

    def reply(*messages: Any) -> object:
        body = {"model": MODEL, "messages": list(messages), "tools": TOOLS}
        return default_scenario(RecordedRequest(0, "POST", "/v1/chat/completions", {}, body))

    call = {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}
    result = {"role": "tool", "tool_call_id": "c", "content": json.dumps("Handed over.")}
    progress = user("[TEAM Coder] Using tool: write_file")
    assert reply(user(TEAM_ASK), call, result, progress) == Say("Done: Handed over.")
    assert reply(user(TEAM_ASK), call, progress, result) == Say("Done: Handed over.")
    assert reply(user("Hello."), progress) == Say(DEFAULT_TEXT)
    end = user("[TEAM RESULT] Haiku written. The run has ended. Tell the user ...")
    assert reply(user(TEAM_ASK), call, result, progress, end) == Say(SUMMARY_TEXT)


# --- in a thread ------------------------------------------------------------------------------


def test_in_a_thread_with_the_sync_client() -> None:
    with (
        FakeChatServer(api_key="k") as fake,
        openai.OpenAI(base_url=fake.url, api_key="k", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(model=MODEL, messages=[user("hi")])
        assert completion.choices[0].message.content == DEFAULT_TEXT
        request = fake.wait_for_completion()
        assert request.status == 200
        assert request.finished
        with pytest.raises(AssertionError, match="2 answered"):
            fake.wait_for_completion(2, timeout_s=0.1)
    assert fake.errors() == []


async def test_wait_for_refuses_to_block_the_servers_loop(fake: FakeChatServer) -> None:
    with pytest.raises(RuntimeError, match="async_wait_for"):
        fake.wait_for(lambda: True)


# --- Pipecat's OpenAILLMService -------------------------------------------------------------


def pipecat_llm(fake: FakeChatServer) -> OpenAILLMService:
    return OpenAILLMService(
        api_key="none", base_url=fake.url, settings=OpenAILLMService.Settings(model=MODEL)
    )


async def close_client(llm: OpenAILLMService) -> None:
    # Pipecat 1.14 never closes the service's AsyncOpenAI client (keep-alive pool without
    # expiry): its socket would be garbage-collected later with a ResourceWarning.
    await llm._client.close()


async def test_pipecat_calls_the_function_with_the_parsed_arguments(
    fake: FakeChatServer,
) -> None:
    llm = pipecat_llm(fake)
    calls: list[tuple[str, str, dict[str, Any]]] = []

    async def handler(params: FunctionCallParams) -> None:
        calls.append((params.function_name, params.tool_call_id, dict(params.arguments)))
        await params.result_callback("handed over")

    llm.register_function(TEAM_TOOL, handler)
    tools = ToolsSchema(
        standard_tools=[
            FunctionSchema(
                name=TEAM_TOOL,
                description="Hand a task to the agent team.",
                properties={"text": {"type": "string"}},
                required=["text"],
            )
        ]
    )
    context = LLMContext(messages=[user(TEAM_ASK)], tools=tools)
    try:
        await run_test(llm, frames_to_send=[LLMContextFrame(context)])
    finally:
        await close_client(llm)
    request = fake.completions()[0]
    assert calls == [
        (TEAM_TOOL, request.tool_calls_sent[0].id, {"text": "write a haiku about the sea."})
    ]
    assert request.stream
    assert request.include_usage
    assert request.tool_names == [TEAM_TOOL]


async def test_pipecat_streams_the_text(fake: FakeChatServer) -> None:
    llm = pipecat_llm(fake)
    context = LLMContext(messages=[user("Hello")])
    try:
        down, _ = await run_test(llm, frames_to_send=[LLMContextFrame(context)])
    finally:
        await close_client(llm)
    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert "".join(texts) == DEFAULT_TEXT
    assert len(texts) == len(DEFAULT_TEXT.split())
