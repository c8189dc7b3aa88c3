"""The five tools end to end: real Redis, real worker processes, the fake agentic backend."""

import asyncio
import os
import signal
import time
from typing import Any

import httpx
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from contracts import ConversationEvent, ToolName
from contracts.keys import live_events_channel
from contracts.progress import progress_of
from fakes.agentic_backend import FakeAgenticBackend
from harness.services import StartWorker
from harness.tool_calls import conversation_events, dispatcher, job
from harness.waiting import async_wait_until

TEAM = "MainConversation"
CLAUDE = "ClaudeCode"


async def _run_finished(redis: Redis, cid: str, n: int = 1) -> list[ConversationEvent]:
    events = await conversation_events(redis, cid)
    return events if sum(e.type == "run_finished" for e in events) >= n else []


async def _relayed(redis: Redis, cid: str, agentic: FakeAgenticBackend) -> list[ConversationEvent]:
    """The events, once every message the backend sent has become one (and the run ended)."""
    events = await _run_finished(redis, cid)
    sent = sum(len(c.sent) for c in agentic.connections)
    return events if sum(e.type != "run_finished" for e in events) >= sent else []


def _forwarded(worker_url: str) -> float:
    metrics = httpx.get(f"{worker_url}/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith("tool_worker_jobs_forwarded_total"))
    return float(line.rsplit(" ", 1)[1])


async def _next_live(pubsub: PubSub) -> ConversationEvent:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        # None also means "read a subscribe confirmation": keep reading.
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            return ConversationEvent.model_validate_json(message["data"])
    raise AssertionError("the live channel fell behind the stream")


def _types(events: list[ConversationEvent], source: str) -> list[str]:
    return [e.type for e in events if e.source == source]


async def test_send_to_nested_hands_over_then_streams_the_run_in_order(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    start_worker()
    live: list[Any] = []
    async with redis.pubsub() as pubsub, dispatcher(redis_url) as tools:
        await pubsub.subscribe(live_events_channel("c1"))
        result = await tools.call(job("c1", ToolName.SEND_TO_NESTED, "write the notes"))
        assert result.ok
        assert result.message == "I've handed that to the team."
        events = await async_wait_until(lambda: _relayed(redis, "c1", agentic), what="all sent")
        while len(live) < len(events):
            live.append(await _next_live(pubsub))
    assert agentic.received(TEAM) == [{"type": "run", "data": "write the notes"}]
    # Every message, in order; TERMINATE in the Planner's text did not end the run.
    assert _types(events, "nested_agent") == [
        "system", "textmessage", "textmessage", "textmessage", "toolcallrequestevent",
        "toolcallexecutionevent", "textmessage", "taskresult", "run_finished", "system",
    ]  # fmt: skip
    assert "TERMINATE" in events[3].payload["data"]["content"]
    assert events[4].payload["data"]["content"][0]["name"] == "write_file"
    # Each message is read once, here; what it means travels with the event.
    steps = [progress_of(e.source, e.payload) for e in events]
    assert steps[4] is not None
    assert steps[4].line == "[TEAM Coder] Using tool: write_file"
    assert steps[0] is None  # "Initiating agent run" is protocol chatter
    finished = next(e for e in events if e.type == "run_finished")
    assert finished.payload["outcome"] == "completed"
    assert finished.payload["summary"] == (
        "The team finished. Done: write the notes. The notes are written."
    )
    result = progress_of(finished.source, finished.payload)
    assert result is not None
    assert result.finished
    assert result.text == finished.payload["summary"]
    assert [e.id for e in live] == [e.id for e in events]


async def test_one_connection_per_conversation_until_reset(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await tools.call(job("c1", ToolName.SEND_TO_NESTED, "first"))).ok
        await async_wait_until(lambda: _run_finished(redis, "c1"), what="first run")
        second = await tools.call(job("c1", ToolName.SEND_TO_NESTED, "second"))
        assert second.ok
        assert second.data == {"sent": "user_message", "new_connection": False}
        assert agentic.opened(TEAM) == 1
        reset = await tools.call(job("c1", ToolName.RESET))
        assert reset.ok
        assert reset.message == "The team has been reset and starts fresh."
        agentic.wait_for(lambda: agentic.opened(TEAM) == 2 and agentic.open_now(TEAM) == 1)
        third = await tools.call(job("c1", ToolName.SEND_TO_NESTED, "third"))
        assert third.data == {"sent": "user_message", "new_connection": False}
    assert agentic.opened(TEAM) == 2
    first_socket, second_socket = agentic.connections[0], agentic.connections[1]
    assert [m["data"] for m in first_socket.received] == ["first", "second"]
    assert second_socket.received == [{"type": "user_message", "data": "third"}]


async def test_pause_cancels_the_run(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "slow"
    start_worker()
    async with dispatcher(redis_url) as tools:
        nothing = await tools.call(job("c1", ToolName.PAUSE))
        assert nothing.message == "The team isn't working on anything right now."
        await tools.call(job("c1", ToolName.SEND_TO_NESTED, "a long job"))
        queued = await tools.call(job("c1", ToolName.SEND_TO_NESTED, "and this"))
        assert queued.message == "The team is still working; I've queued that for its next turn."
        paused = await tools.call(job("c1", ToolName.PAUSE))
        assert paused.message == "I've asked the team to stop."
        events = await async_wait_until(lambda: _run_finished(redis, "c1"), what="interrupted")
    assert agentic.received(TEAM)[-1] == {"type": "cancel"}
    finished = next(e for e in events if e.type == "run_finished")
    assert finished.payload["outcome"] == "interrupted"
    assert "taskresult" not in _types(events, "nested_agent")
    messages = [e.payload["data"].get("message") for e in events if e.type == "system"]
    assert "User message queued for next turn." in messages
    assert messages[-1] == "Agent run interrupted."


async def test_claude_code_send_and_pause(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    start_worker()
    async with dispatcher(redis_url) as tools:
        sent = await tools.call(job("c1", ToolName.SEND_TO_CLAUDE_CODE, "fix the tests"))
        assert sent.message == "I've handed that to Claude Code."
        events = await async_wait_until(lambda: _run_finished(redis, "c1"), what="task result")
        finished = next(e for e in events if e.type == "run_finished")
        assert (
            finished.payload["summary"]
            == "Claude Code finished. Finished: fix the tests. Edited app.py."
        )

        agentic.scenario = "slow"
        await tools.call(job("c1", ToolName.SEND_TO_CLAUDE_CODE, "refactor"))
        paused = await tools.call(job("c1", ToolName.PAUSE_CLAUDE_CODE))
        assert paused.message == "I've asked Claude Code to stop."
        events = await async_wait_until(lambda: _run_finished(redis, "c1", 2), what="cancelled")
    assert agentic.opened(CLAUDE) == 1
    assert [m["type"] for m in agentic.received(CLAUDE)] == [
        "user_message",
        "user_message",
        "cancel",
    ]
    claude = [e for e in events if e.source == "claude_code"]
    assert [e.type for e in claude[:3]] == ["system", "SystemEvent", "system"]
    assert claude[0].payload["data"]["message"] == "Claude Code session initialized"
    assert [e.payload["outcome"] for e in claude if e.type == "run_finished"] == [
        "completed", "interrupted",
    ]  # fmt: skip


async def test_two_workers_hold_one_connection_per_conversation(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str
) -> None:
    start_worker()
    start_worker()
    conversations = ["a", "b", "c"]
    async with dispatcher(redis_url) as tools:
        for n in range(4):
            results = await asyncio.gather(
                *(
                    tools.call(job(cid, ToolName.SEND_TO_NESTED, f"{cid}{n}"))
                    for cid in conversations
                )
            )
            assert all(r.ok for r in results), results
    # However the jobs fell between the workers, each conversation kept one socket, in order.
    assert agentic.opened(TEAM) == len(conversations)
    for socket in agentic.connections:
        cid = socket.received[0]["data"][0]
        assert [m["data"] for m in socket.received] == [f"{cid}{n}" for n in range(4)]


async def test_a_job_landing_on_another_worker_is_forwarded_to_the_owner(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str
) -> None:
    owner = start_worker()
    async with dispatcher(redis_url) as tools:
        assert (await tools.call(job("c1", ToolName.SEND_TO_NESTED, "first"))).ok
        other = start_worker()
        # With the owner frozen, only the other worker can take the next job; which worker
        # takes a job is otherwise a race, and this test is about what the non-owner does.
        os.kill(owner.pid, signal.SIGSTOP)
        try:
            pending = asyncio.create_task(
                tools.call(job("c1", ToolName.SEND_TO_NESTED, "second", deadline_s=10.0))
            )

            async def forwarded_once() -> bool:
                return await asyncio.to_thread(_forwarded, other.spec.url) == 1

            await async_wait_until(forwarded_once, what="the job forwarded to its owner")
        finally:
            os.kill(owner.pid, signal.SIGCONT)
        second = await pending
    assert second.ok, second.message
    assert _forwarded(owner.spec.url) == 0
    assert agentic.opened(TEAM) == 1
    assert [m["data"] for m in agentic.connections[0].received] == ["first", "second"]


async def test_worker_killed_mid_call_fails_plainly_then_the_next_call_works(
    start_worker: StartWorker, agentic: FakeAgenticBackend, redis_url: str, redis: Redis
) -> None:
    agentic.scenario = "hang"  # the call is stuck connecting when the worker dies
    worker = start_worker(TOOL_WORKER_CONNECT_TIMEOUT_S="30")
    async with dispatcher(redis_url) as tools:
        call = job("c1", ToolName.SEND_TO_NESTED, "doomed", deadline_s=2.0)
        started = time.monotonic()
        pending = asyncio.create_task(tools.call(call))
        await async_wait_until(
            lambda: redis.exists(f"arq:in-progress:{call.call_id}"), what="job running"
        )
        worker.kill()
        result = await pending
        elapsed = time.monotonic() - started
        assert not result.ok
        assert result.error_kind == "timeout"
        assert result.message == "That took too long, so I couldn't pass it on."
        assert result.detail == "the tool-worker did not answer within 2 s"
        assert elapsed < call.deadline_s + 1.0  # the deadline held (with scheduling slack)

        agentic.scenario = "quick"
        start_worker()
        again = await tools.call(job("c1", ToolName.SEND_TO_NESTED, "again"))
        assert again.ok, again.message
