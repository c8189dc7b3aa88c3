"""A whole voice conversation with the composed stack, through nginx over wss: speech in, a tool
call that the tool-worker container takes to the agentic double, the team's events, the spoken
answer; then the conversation in the history API, as the browser reads it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from harness.caller import Caller, utterance
from harness.fault_runs import until
from harness.waiting import async_wait_until

from .conftest import Deployment

ASKED = "Please ask the team to write a haiku about the sea."


async def test_a_spoken_conversation_reaches_the_team_and_is_kept(deployed: Deployment) -> None:
    cid = f"containers-{uuid.uuid4().hex[:8]}"
    caller = Caller(
        f"{deployed.voice_url}/{cid}?format=raw", utterance(ASKED), reconnect=False,
        tls=deployed.tls(),
    )  # fmt: skip
    caller.start()
    try:
        await until(lambda: caller.messages("function_result"), 60, "the tool call's result")
        await until(
            lambda: any(m["finished"] for m in caller.messages("progress")), 60, "the team's run"
        )
        heard_by = len(caller.answers)
        await until(lambda: len(caller.answers) > heard_by, 60, "the spoken summary")
    finally:
        await caller.stop()

    [call] = caller.messages("function_call")
    assert call["name"] == "send_to_nested"
    [result] = caller.messages("function_result")
    assert (result["ok"], result["result"]) == (True, "I've handed that to the team.")
    assert deployed.agentic.received("MainConversation")[0]["type"] == "run"
    assert caller.audio_bytes > 0

    async def stored() -> dict[str, Any] | None:
        async with httpx.AsyncClient(base_url=deployed.url, verify=deployed.tls()) as http:
            response = await http.get(f"/api/realtime/conversations/{cid}")
        if response.status_code != 200:
            return None
        kept: dict[str, Any] = response.json()
        ended = any(e["type"] == "session_stopped" for e in kept["events"])
        return kept if ended else None

    conversation = await async_wait_until(stored, timeout_s=30, what="the stored conversation")
    kinds = {(e["source"], e["type"]) for e in conversation["events"]}
    assert {
        ("controller", "session_started"),
        ("voice", "function_call"),
        ("voice", "function_result"),
        ("nested_agent", "taskresult"),
        ("nested_agent", "run_finished"),
        ("controller", "session_stopped"),
    } <= kinds
