"""A misbehaving agentic backend: malformed frames of every kind, a 10 MB message, a flood.
The worker stays up, every caller gets a plain answer within its deadline, each bad frame is
recorded as an `error` event, and the next tool calls work."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from contracts import ConversationEvent, ToolName, ToolResult
from fakes.agentic_backend import FLOOD_MESSAGES, FakeAgenticBackend
from harness.services import StartWorker
from harness.tool_calls import conversation_events, dispatcher, job
from harness.waiting import async_wait_until
from voice_gateway.tools.dispatch import ToolDispatcher

DEADLINE_S = 3.0
CID = "c-hostile"


async def _call(tools: ToolDispatcher, text: str) -> ToolResult:
    started = time.monotonic()
    result = await tools.call(job(CID, ToolName.SEND_TO_NESTED, text, deadline_s=DEADLINE_S))
    assert time.monotonic() - started < DEADLINE_S + 1.0, "the call outlived its deadline"
    return result


async def _events_once(redis: Redis, what: str, n: int = 1) -> list[ConversationEvent]:
    async def probe() -> list[ConversationEvent]:
        events = await conversation_events(redis, CID)
        return events if sum(e.type == what for e in events) >= n else []

    return await async_wait_until(probe, timeout_s=20, what=f"{n} {what} event(s)")


async def _ready(url: str) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{url}/readyz")).status_code == 200


def _malformed(events: list[ConversationEvent]) -> list[str]:
    return [str(e.payload["message"]) for e in events if e.payload.get("kind") == "malformed"]


async def test_malformed_frames_are_recorded_and_skipped(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "hostile"
    worker = start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await _call(tools, "go")).ok
        events = await _events_once(redis, "run_finished")
        malformed = _malformed(events)
        assert malformed == [
            "binary frame that is not UTF-8 text",
            "nested more than 32 levels deep",
            "missing or invalid type: '42'",
            f"missing or invalid type: {'x' * 80!r}",
            "missing or invalid type: '../../etc/passwd'",
            "not a JSON object: NoneType",
        ]
        [finished] = [e for e in events if e.type == "run_finished"]
        assert finished.payload["outcome"] == "completed"  # the wrong-typed taskresult ended it
        assert {"made_up_type", "textmessage", "system", "taskresult"} <= {e.type for e in events}
        # A lone surrogate (valid JSON, not Unicode) is stored as "?", not a crash.
        [made_up] = [e for e in events if e.type == "made_up_type"]
        assert made_up.payload["data"] == {"content": "\x00??"}

        agentic.scenario = "quick"
        assert (await _call(tools, "again")).ok
    assert await _ready(worker.spec.url)
    assert len(agentic.received("MainConversation")) == 2


async def test_a_huge_message_closes_the_socket_and_the_caller_hears_why(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "huge"  # 10 MB where the acknowledgement belongs
    worker = start_worker()
    async with dispatcher(redis_url) as tools:
        refused = await _call(tools, "go")
        assert (refused.ok, refused.error_kind) == (False, "disconnected")
        assert refused.message == "I lost the connection to the team."
        events = await _events_once(redis, "error", 2)
        # The worker fails the socket (1009, over TOOL_WORKER_MAX_MESSAGE_BYTES) while the fake
        # is still sending, so no close frame comes back: recorded as closed, abnormally.
        closed = [e.payload for e in events if e.payload.get("kind") == "disconnected"]
        assert len(closed) == 2  # the socket closing, and the call it failed
        assert all(e.payload.get("kind") != "malformed" for e in events)
        agentic.scenario = "quick"
        again = await _call(tools, "again")
        assert again.ok
        assert again.data["new_connection"] is True
    assert await _ready(worker.spec.url)


@pytest.mark.timeout(120)
async def test_a_flood_of_messages_becomes_events_in_order(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "flood"
    start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await _call(tools, "go")).ok
        events = await _events_once(redis, "run_finished")
        flood = [e.payload["data"]["n"] for e in events if "n" in e.payload.get("data", {})]
        assert flood == list(range(FLOOD_MESSAGES))
        agentic.scenario = "quick"
        assert (await _call(tools, "again")).ok
