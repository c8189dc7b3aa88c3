"""Each service's container SIGKILLed (`docker kill`) in the middle of a conversation, then
started again: nothing is lost (events produced == events stored), and the conversation goes on.

Two callers talk through nginx over wss the whole time and reconnect as the web client does;
every fifth of their turns hands a task to the team. Events produced are what the producers'
counters say, read inside the containers (a producer's own just before it is killed); events
stored are the distinct rows in the event-store's SQLite file.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from harness.caller import Caller, utterance
from harness.fault_runs import until

from .conftest import Deployment

SETTLE_S = 60.0  # for every buffered event to reach the store once the callers hang up


@pytest.mark.timeout(360)  # a restart waits for Docker's next healthcheck (every 10 s)
@pytest.mark.parametrize(
    "service", ["redis", "event-store", "tool-worker", "voice-gateway", "nginx"]
)
async def test_a_killed_service_loses_nothing(deployed: Deployment, service: str) -> None:
    stack = deployed.stack
    cids = [f"kill-{service}-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
    callers = [
        Caller(f"{deployed.voice_url}/{cid}?format=raw", utterance(), tls=deployed.tls())
        for cid in cids
    ]
    for caller in callers:
        caller.start()
    try:
        await until(lambda: all(c.answers for c in callers), 60, "both callers answered")
        await asyncio.to_thread(stack.kill, service)
        killed_at, killed_wall = time.monotonic(), datetime.now(UTC)
        recovery_s = await asyncio.to_thread(stack.restart_killed, service)
        # The conversation goes on: every caller hears an answer after the restart.
        await until(
            lambda: all(c.answers_since(killed_at + recovery_s) for c in callers),
            90,
            f"answers after {service} came back",
        )
    finally:
        for caller in callers:
            await caller.stop()

    counts: list[tuple[int, int]] = []

    def settled() -> bool:
        # One reading of both: sessions a dropped connection left waiting for a resume end
        # later and still write events, so two separate readings can disagree.
        counts.append((stack.produced(), stack.stored()))
        return counts[-1][0] == counts[-1][1]

    try:
        await until(settled, SETTLE_S, "every produced event stored", poll_s=1.0)
    except AssertionError as timed_out:  # say which way the counts were apart, and since when
        raise AssertionError(f"{service}: (produced, stored) readings {counts[:3]} ... "
                             f"{counts[-3:]}") from timed_out  # fmt: skip
    produced, stored = counts[-1]
    assert produced == stored, f"{service}: produced {produced}, stored {stored}"
    assert produced > 0
    # And each conversation reads back from the history API with what was said on both sides of
    # the kill.
    async with httpx.AsyncClient(base_url=deployed.url, verify=deployed.tls()) as http:
        for cid in cids:
            response = await http.get(f"/api/realtime/conversations/{cid}")
            assert response.status_code == 200, (cid, response.text)
            stamps = [datetime.fromisoformat(e["timestamp"]) for e in response.json()["events"]]
            assert min(stamps) < killed_wall < max(stamps), (service, cid, "events on both sides")
