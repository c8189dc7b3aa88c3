"""No secret ever reaches a log or an event: a whole session with a tool call runs with a
distinctive OpenAI key and gateway token (the token sent the way browsers send it, in the
query string, and also refused once), then every process log, every stored event, the raw
SQLite file and the Redis stream are searched for both: zero hits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts.keys import EVENTS_STREAM
from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import TOOL_CALL_TEXT, FakeRealtimeServer
from harness.services import Processes, StartEventStore, StartWorker, ws_url
from harness.speech import silence, speech_pcm, stream_at_real_time
from harness.waiting import async_wait_until
from stack import free_port, voice_gateway_spec

API_KEY = "sk-proj-LEAKCANARY-7f3a9c2e5b1d"
TOKEN = "gwtok-LEAKCANARY-4e8b2a6c9d0f"
SECRETS = (API_KEY, TOKEN)
CID = "conv-secrets"


def _hits(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    return [s for s in SECRETS if s.encode() in raw]


async def _run_a_session_with_a_tool_call(ws_base: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with connect(f"{ws_base}/api/realtime/pipecat/ws/{CID}?token={TOKEN}") as ws:

        async def receive() -> None:
            async for frame in ws:
                if isinstance(frame, str):
                    messages.append(json.loads(frame))

        receiver = asyncio.create_task(receive())
        await stream_at_real_time(
            ws.send, silence(300) + speech_pcm("Ask the team to write a haiku.") + silence(900)
        )

        async def run_finished() -> bool:
            return any(m["type"] == "progress" and m["finished"] for m in messages)

        await async_wait_until(run_finished, timeout_s=45, what="the team's run to finish")
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(receiver, 10)
    return messages


async def _refused_once(ws_base: str) -> None:
    """A valid token with a query that does not validate: refused before the socket opens."""
    try:
        async with connect(f"{ws_base}/api/realtime/pipecat/ws/{CID}?token={TOKEN}&voice=B!") as ws:
            await ws.recv()
    except (InvalidStatus, ConnectionClosed):
        return
    raise AssertionError("a bad query was accepted")


async def test_no_secret_in_logs_or_events(
    redis_url: str,
    redis_client: redis.Redis,
    agentic: FakeAgenticBackend,
    start_event_store: StartEventStore,
    start_worker: StartWorker,
    processes: Processes,
    tmp_path: Path,
) -> None:
    store = start_event_store(tmp_path / "secrets.db", GATEWAY_TOKEN=TOKEN)
    start_worker()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with FakeRealtimeServer(api_key=API_KEY) as realtime:  # only this key is let in
        port = free_port()
        env = {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_REALTIME_URL": realtime.url("tool_call"),
            "GATEWAY_TOKEN": TOKEN,
        }
        gateway = processes.start(voice_gateway_spec(port, redis_url, extra_env=env))
        ws_base = f"ws://127.0.0.1:{port}"
        messages = await _run_a_session_with_a_tool_call(ws_base)
        await _refused_once(ws_base)
        stream = ws_url(store, f"/api/realtime/conversations/{CID}/stream?token={TOKEN}")
        async with connect(stream) as ws:
            assert json.loads(await ws.recv())["type"] == "history"
    [result] = [m for m in messages if m["type"] == "function_result"]
    assert (result["ok"], result["name"]) == (True, "send_to_nested")
    assert agentic.received("MainConversation") == [{"type": "run", "data": TOOL_CALL_TEXT}]

    async with httpx.AsyncClient(base_url=store.spec.url, headers=auth, timeout=10) as http:

        async def stored() -> str:
            response = await http.get(f"/api/realtime/conversations/{CID}/export")
            body = response.text if response.status_code == 200 else ""
            return body if "session_stopped" in body and "run_finished" in body else ""

        exported = await async_wait_until(stored, timeout_s=15, what="the session stored")
        dead = (await http.get("/api/event-store/dead-letters")).text
    assert len(json.loads(exported)["events"]) > 10  # the session, the tool call, the run
    assert _hits(exported) == []
    assert _hits(dead) == []
    assert _hits(repr(redis_client.xrange(EVENTS_STREAM))) == []  # what is not trimmed yet

    processes.stop_all()  # every log complete and closed
    _assert_files_clean(tmp_path, gateway.log_path)


def _assert_files_clean(tmp_path: Path, gateway_log: Path) -> None:
    logs = sorted((tmp_path / "logs").glob("*.log"))
    assert {p.stem.split("-")[0] for p in logs} >= {"event", "tool", "voice"}, logs
    # uvicorn logs each WebSocket's path and query ("... [accepted]", "... 403"): the lines
    # that carried the token before the services redacted it.
    assert "[accepted]" in gateway_log.read_text()
    leaks = {p.name: _hits(p.read_bytes()) for p in logs}
    assert all(not hits for hits in leaks.values()), leaks
    database = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    assert _hits(database) == []
