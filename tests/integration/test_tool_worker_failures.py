"""Every failure is a plain answer within the call's deadline, recorded as an event."""

import time

import pytest
from redis.asyncio import Redis

from contracts import ToolName, ToolResult
from fakes.agentic_backend import FakeAgenticBackend
from harness.services import StartWorker
from harness.tool_calls import conversation_events, dispatcher, job
from harness.waiting import async_wait_until
from stack import free_port
from voice_gateway.tools.dispatch import ToolDispatcher

TEAM_PATH = "/api/runs/MainConversation"
SPOKEN_UNREACHABLE = "I can't reach the team right now."
DEADLINE_S = 3.0


async def _timed_call(tools: ToolDispatcher, name: ToolName, text: str | None = None) -> ToolResult:
    started = time.monotonic()
    result = await tools.call(job("c1", name, text, deadline_s=DEADLINE_S))
    assert time.monotonic() - started < DEADLINE_S + 1.0, "the call outlived its deadline"
    return result


async def _error_events(redis: Redis, at_least: int = 1) -> list[dict[str, object]]:
    """The error events stored so far, once there are `at_least` (the worker's outbox writes
    them just after it answers the call)."""
    events = await conversation_events(redis, "c1")
    errors = [e.payload for e in events if e.type == "error"]
    return errors if len(errors) >= at_least else []


@pytest.mark.parametrize(
    ("url", "spoken", "detail", "kind"),
    [
        (
            "ws://127.0.0.1:{free}",
            (SPOKEN_UNREACHABLE, "I can't reach Claude Code right now."),
            "{url}" + TEAM_PATH + " is not reachable (",
            "unreachable",
        ),
        (
            "{fake}/not-the-api",
            ("The team couldn't take that right now.", "Claude Code couldn't take that right now."),
            "{url}" + TEAM_PATH + " refused the connection (HTTP 404)",
            "refused",
        ),
    ],
    ids=["unreachable", "refused"],
)
async def test_a_backend_that_cannot_be_reached(
    start_worker: StartWorker,
    agentic: FakeAgenticBackend,
    redis_url: str,
    redis: Redis,
    url: str,
    spoken: tuple[str, str],
    detail: str,
    kind: str,
) -> None:
    """Said in a few plain words; the address and the cause go to the event for whoever runs
    the stack, never into the voice."""
    backend_url = url.format(free=free_port(), fake=agentic.url)
    start_worker(AGENTIC_WS_URL=backend_url)
    async with dispatcher(redis_url) as tools:
        result = await _timed_call(tools, ToolName.SEND_TO_NESTED, "anything")
        assert (result.ok, result.error_kind, result.message) == (False, kind, spoken[0])
        assert result.detail is not None
        assert result.detail.startswith(detail.format(url=backend_url))
        errors = await async_wait_until(lambda: _error_events(redis), what="error event")
        assert (errors[0]["message"], errors[0]["detail"]) == (result.message, result.detail)
        claude = await _timed_call(tools, ToolName.SEND_TO_CLAUDE_CODE, "anything")
        assert (claude.ok, claude.message) == (False, spoken[1])


async def test_a_backend_that_never_completes_the_handshake(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str
) -> None:
    agentic.scenario = "hang"
    start_worker()  # connect timeout 1 s (conftest)
    async with dispatcher(redis_url) as tools:
        result = await _timed_call(tools, ToolName.RESET)
        assert (result.error_kind, result.message) == ("unreachable", SPOKEN_UNREACHABLE)
        assert result.detail is not None
        assert result.detail.endswith("did not accept a connection within 1 second")
        agentic.scenario = "quick"
        assert (await _timed_call(tools, ToolName.SEND_TO_NESTED, "now")).ok  # reconnects


async def test_a_backend_that_accepts_and_never_answers(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "silent"
    start_worker()
    async with dispatcher(redis_url) as tools:
        team = await _timed_call(tools, ToolName.SEND_TO_NESTED, "hello?")
        assert (team.ok, team.error_kind) == (False, "no_answer")
        assert team.message == "The team didn't answer in time."
        assert team.detail is not None
        assert team.detail.startswith(agentic.url)
        assert team.detail.endswith("did not respond within 1 second")
        claude = await _timed_call(tools, ToolName.SEND_TO_CLAUDE_CODE, "hello?")
        assert (claude.ok, claude.error_kind) == (False, "no_answer")
        errors = await async_wait_until(lambda: _error_events(redis, 2), what="two error events")
        assert [e["kind"] for e in errors] == ["no_answer", "no_answer"]
        agentic.scenario = "quick"
        assert (await _timed_call(tools, ToolName.SEND_TO_NESTED, "now?")).ok


async def test_a_backend_that_closes_mid_run(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "disconnect"
    start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await _timed_call(tools, ToolName.SEND_TO_NESTED, "go")).ok
        events = await async_wait_until(
            lambda: _finished(redis), what="run ended by the disconnect"
        )
        finished = next(e for e in events if e.type == "run_finished")
        assert finished.payload["outcome"] == "disconnected"
        assert finished.payload["summary"] == (
            "I lost the connection to the team before the work was finished."
        )
        assert any(e.payload.get("kind") == "disconnected" for e in events if e.type == "error")
        agentic.scenario = "quick"
        again = await _timed_call(tools, ToolName.SEND_TO_NESTED, "again")
        assert again.ok
        assert again.data["new_connection"] is True
    assert agentic.opened("MainConversation") == 2


async def test_backend_errors_and_garbage_become_events(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "garbage"
    start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await _timed_call(tools, ToolName.SEND_TO_NESTED, "go")).ok
        events = await async_wait_until(lambda: _finished(redis), what="run end")
        malformed = [e.payload for e in events if e.payload.get("kind") == "malformed"]
        assert [m["message"] for m in malformed] == [
            "not JSON: 'this is not JSON {'",
            "missing or invalid type: 'None'",
            "not a JSON object: list",
        ]
        assert next(e for e in events if e.type == "run_finished").payload["outcome"] == (
            "completed"
        )

        agentic.scenario = "error"
        assert (await _timed_call(tools, ToolName.SEND_TO_NESTED, "again")).ok
        events = await async_wait_until(lambda: _finished(redis, 2), what="error run end")
        last = [e for e in events if e.type == "run_finished"][-1]
        assert last.payload["outcome"] == "error"
        assert last.payload["summary"] == "The team ran into a problem and stopped."
        assert last.payload["detail"] == "Model client error: rate limit exceeded"


async def _finished(redis: Redis, n: int = 1) -> list:  # type: ignore[type-arg]
    events = await conversation_events(redis, "c1")
    return events if sum(e.type == "run_finished" for e in events) >= n else []
