"""No secret ever reaches a log or an event: a whole session with a tool call runs with a
distinctive OpenAI key and gateway token, opened the way the browser opens it (through nginx
over TLS: a ticket asked for with the token in a header, then the socket with `?ticket=`), the
live stream likewise, plus an old client that still puts the token in the URL and a bad query
with a ticket (both refused). Then every log the stack wrote (each process's, nginx's access
and error logs), every stored event, the raw SQLite file, Redis's append-only file and its
stream are searched for the key, the token and every ticket: zero hits."""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from contracts.keys import EVENTS_STREAM
from fakes.agentic_backend import FakeAgenticBackend
from fakes.openai_realtime import TOOL_CALL_TEXT, FakeRealtimeServer
from harness.services import Processes, StartEventStore, StartWorker
from harness.speech import silence, speech_pcm, stream_at_real_time
from harness.waiting import async_wait_until
from service_kit.tickets import redis_key
from stack import ManagedProcess, free_port, front_spec, voice_gateway_spec

API_KEY = "sk-proj-LEAKCANARY-7f3a9c2e5b1d"
TOKEN = "gwtok-LEAKCANARY-4e8b2a6c9d0f"
CID = "conv-secrets"
VOICE_PATH = f"/api/realtime/pipecat/ws/{CID}"
STREAM_PATH = f"/api/realtime/conversations/{CID}/stream"


class Browser:
    """What the web client does before each socket, against nginx: a ticket for the token."""

    def __init__(self, https_url: str, tls: ssl.SSLContext) -> None:
        self.https_url = https_url
        self.wss_url = https_url.replace("https://", "wss://", 1)
        self.tls = tls
        self.tickets: list[str] = []  # every ticket issued, to search the logs for

    async def ticket(self, purpose: str) -> str:
        async with httpx.AsyncClient(base_url=self.https_url, verify=self.tls) as http:
            granted = await http.post(
                "/api/realtime/pipecat/tickets",
                json={"conversation_id": CID, "purpose": purpose},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        assert granted.status_code == 200, granted.text
        ticket: str = granted.json()["ticket"]
        self.tickets.append(ticket)
        return ticket


def _hits(text: str | bytes, secrets: list[str]) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    return [s for s in secrets if s.encode() in raw]


async def _run_a_session_with_a_tool_call(browser: Browser) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    ticket = await browser.ticket("voice")
    url = f"{browser.wss_url}{VOICE_PATH}?format=raw&ticket={ticket}"
    async with connect(url, ssl=browser.tls) as ws:

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


async def _refused(url: str, tls: ssl.SSLContext) -> int | None:
    """The close code (or HTTP status) of a socket the gateway must not open."""
    try:
        async with connect(url, ssl=tls) as ws:
            await ws.recv()
    except InvalidStatus as status:
        return status.response.status_code
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(f"{url} was accepted")


@pytest.fixture
def web_root() -> Iterator[Path]:
    """A page for nginx to serve, where its workers (`nobody` when started as root) can read
    it: pytest's own temporary folders are private to their owner."""
    with tempfile.TemporaryDirectory(prefix="av-site-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        (root / "index.html").write_text("<!doctype html><title>agentic-voice</title>")
        (root / "index.html").chmod(0o644)
        yield root


def _front(
    tmp_path: Path, processes: Processes, gateway_port: int, store: ManagedProcess, web_root: Path
) -> str:
    """nginx as `make run` starts it, in front of the gateway and the event-store."""
    port = free_port()
    spec = front_spec(
        tmp_path / "front",
        port,
        gateway_port=gateway_port,
        event_store_port=int(store.spec.url.rsplit(":", 1)[1]),
        web_root=web_root,
    )
    processes.start(spec)
    return f"https://localhost:{port}"


async def test_no_secret_in_logs_or_events(
    redis_url: str,
    redis_client: redis.Redis,
    agentic: FakeAgenticBackend,
    start_event_store: StartEventStore,
    start_worker: StartWorker,
    processes: Processes,
    tmp_path: Path,
    web_root: Path,
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
        https_url = _front(tmp_path, processes, port, store, web_root)
        tls = ssl.create_default_context(cafile=tmp_path / "front" / "tls" / "tls.crt")
        browser = Browser(https_url, tls)
        messages = await _run_a_session_with_a_tool_call(browser)

        stream = f"{browser.wss_url}{STREAM_PATH}?after=0&ticket={await browser.ticket('events')}"
        async with connect(stream, ssl=tls) as ws:
            assert json.loads(await ws.recv())["type"] == "history"
        # An old client with the token in the URL, and a ticket with a query that does not
        # validate: both refused, and neither URL may reach a log whole.
        assert await _refused(f"{browser.wss_url}{VOICE_PATH}?token={TOKEN}", tls) == 1008
        bad_query = f"{browser.wss_url}{VOICE_PATH}?ticket={await browser.ticket('voice')}&voice=B!"
        assert await _refused(bad_query, tls) in (403, 1008)
    [result] = [m for m in messages if m["type"] == "function_result"]
    assert (result["ok"], result["name"]) == (True, "send_to_nested")
    assert agentic.received("MainConversation") == [{"type": "run", "data": TOOL_CALL_TEXT}]
    secrets = [API_KEY, TOKEN, *browser.tickets]
    assert len(browser.tickets) == 3

    async with httpx.AsyncClient(base_url=store.spec.url, headers=auth, timeout=10) as http:

        async def stored() -> str:
            response = await http.get(f"/api/realtime/conversations/{CID}/export")
            body = response.text if response.status_code == 200 else ""
            return body if "session_stopped" in body and "run_finished" in body else ""

        exported = await async_wait_until(stored, timeout_s=15, what="the session stored")
        dead = (await http.get("/api/event-store/dead-letters")).text
    assert len(json.loads(exported)["events"]) > 10  # the session, the tool call, the run
    assert _hits(exported, secrets) == []
    assert _hits(dead, secrets) == []
    assert _hits(repr(redis_client.xrange(EVENTS_STREAM)), secrets) == []  # not trimmed yet
    _assert_redis_files_clean(tmp_path / "redis", browser.tickets, secrets)

    processes.stop_all()  # every log complete and closed
    _assert_files_clean(tmp_path, gateway.log_path, secrets)


def _assert_redis_files_clean(redis_dir: Path, tickets: list[str], secrets: list[str]) -> None:
    """Redis keeps tickets under a hash of each: its append-only file has the keys, not them."""
    files = [p for p in redis_dir.rglob("*") if p.is_file()]
    persisted = b"".join(p.read_bytes() for p in files)
    assert redis_key(tickets[0]).encode() in persisted, files  # the file holds what was set
    assert _hits(persisted, secrets) == []


def _assert_files_clean(tmp_path: Path, gateway_log: Path, secrets: list[str]) -> None:
    logs = sorted((tmp_path / "logs").glob("*.log"))
    assert {p.stem.split("-")[0] for p in logs} >= {"event", "tool", "voice", "nginx"}, logs
    nginx_logs = sorted((tmp_path / "front" / "logs").glob("*.log"))
    assert {p.name for p in nginx_logs} >= {"nginx-access.log", "nginx-error.log"}
    # uvicorn logs each WebSocket's path and query ("... [accepted]", "... 403"), and nginx
    # each request: the lines that would carry a ticket or a token if nothing kept them out.
    assert "[accepted]" in gateway_log.read_text()
    access = (tmp_path / "front" / "logs" / "nginx-access.log").read_text()
    assert f'"GET {VOICE_PATH} HTTP/1.1" 101' in access
    assert f'"GET {STREAM_PATH} HTTP/1.1" 101' in access
    assert '"POST /api/realtime/pipecat/tickets HTTP/1.1" 200' in access
    assert "?" not in access
    leaks = {p.name: _hits(p.read_bytes(), secrets) for p in [*logs, *nginx_logs]}
    assert all(not hits for hits in leaks.values()), leaks
    database = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    assert _hits(database, secrets) == []
