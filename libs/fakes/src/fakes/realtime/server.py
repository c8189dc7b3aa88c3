"""The fake OpenAI Realtime server: a websockets server on loopback, in the caller's event loop
(`async with`) or in a thread of its own (`with`, or `start_in_thread()`/`stop()`)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from fakes.realtime.audio import VadConfig
from fakes.realtime.recording import AudioDeltaSent, ConnectionRecord, Recorder, Rejection
from fakes.realtime.responses import Pacing
from fakes.realtime.scenarios import BUILTIN, Scenario
from fakes.realtime.session import RealtimeSession
from fakes.threaded import ThreadableServer

T = TypeVar("T")

# websockets logs request headers (the API key among them) at DEBUG: never let it.
LOGGER = logging.getLogger("fakes.openai_realtime")
LOGGER.setLevel(logging.INFO)

API_PATH = "/v1/realtime"
DEFAULT_SCENARIO = "reply"


def _redacted(headers: Headers) -> dict[str, str]:
    return {
        key: ("Bearer <redacted>" if key.lower() == "authorization" else value)
        for key, value in headers.raw_items()
    }


def _error_body(message: str, code: str | None) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


class FakeRealtimeServer(ThreadableServer):
    """A local stand-in for `wss://api.openai.com/v1/realtime` (GA protocol).

    `url(scenario)` is the base URL for a client (Pipecat appends `?model=...`); the path picks
    the scenario for each connection. `api_key`, when given, is the only key accepted; any
    `Authorization: Bearer <key>` is accepted otherwise (a missing one gets a 401).
    """

    thread_name = "fake-openai-realtime"

    def __init__(
        self,
        *,
        scenarios: Iterable[Scenario] = (),
        api_key: str | None = None,
        audio_speed: float = 1.25,
        chunk_ms: int = 40,
        vad: VadConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        compression: str | None = None,
        close_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.pacing = Pacing(speed=audio_speed, chunk_ms=chunk_ms)
        self.vad = vad or VadConfig()
        self._compression = compression
        self._close_timeout = close_timeout
        self._scenarios = dict(BUILTIN)
        self._recorder = Recorder()  # (add_scenario takes its lock)
        for scenario in scenarios:
            self.add_scenario(scenario)
        self._connections: list[ConnectionRecord] = []
        self._rejections: list[Rejection] = []
        self._errors: list[BaseException] = []
        self._server: Server | None = None
        super().__init__()

    # -- scenarios and URLs ------------------------------------------------------------------

    def add_scenario(self, scenario: Scenario) -> None:
        if "/" in scenario.name or not scenario.name:
            raise ValueError(f"bad scenario name {scenario.name!r}")
        with self._recorder.lock:
            self._scenarios[scenario.name] = scenario

    def url(self, scenario: str | Scenario = DEFAULT_SCENARIO) -> str:
        """Base URL for `OPENAI_REALTIME_URL`: ws://127.0.0.1:PORT/<scenario>/v1/realtime.
        A `Scenario` object is registered under its name."""
        if isinstance(scenario, Scenario):
            self.add_scenario(scenario)
            scenario = scenario.name
        elif scenario not in self._scenarios:
            raise KeyError(f"unknown scenario {scenario!r}")
        if not self.port:
            raise RuntimeError("the server is not started")
        return f"ws://{self.host}:{self.port}/{scenario}{API_PATH}"

    def _scenario_for(self, path: str) -> Scenario | None:
        if path == API_PATH:
            return self._scenarios[DEFAULT_SCENARIO]
        name, _, rest = path.lstrip("/").partition("/")
        with self._recorder.lock:
            return self._scenarios.get(name) if "/" + rest == API_PATH else None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=self._compression,
            close_timeout=self._close_timeout,
            # No keepalive pings: websockets draws their payloads from the global `random`, and
            # this server runs in the tests' own process, where that disturbs Hypothesis (it
            # fails an example during which the random state changed). The gateway's client
            # answers pings; it never needs them.
            ping_interval=None,
            logger=LOGGER,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop listening, close every connection (1001) and wait for their handlers."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    # -- connections ---------------------------------------------------------------------------

    def _reject(
        self, connection: ServerConnection, request: Request, status: int, body: Any
    ) -> Response:
        with self._recorder.lock:
            self._rejections.append(Rejection(request.path, status, _redacted(request.headers)))
        self._recorder.changed()
        response = connection.respond(status, json.dumps(body))
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        scenario = self._scenario_for(path)
        if scenario is None:
            body = _error_body(f"Invalid URL (GET {path})", None)
            return self._reject(connection, request, 404, body)
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not key.strip():
            message = "You didn't provide an API key. You need to provide your API key in an "
            message += (
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return self._reject(connection, request, 401, _error_body(message, None))
        if self.api_key is not None and key != self.api_key:
            message = "Incorrect API key provided. You can find your API key at "
            message += "https://platform.openai.com/account/api-keys."
            return self._reject(connection, request, 401, _error_body(message, "invalid_api_key"))
        if scenario.reject is not None:
            return self._reject(connection, request, scenario.reject.status, scenario.reject.body)
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        path, _, query = request.path.partition("?")
        scenario = self._scenario_for(path)
        assert scenario is not None  # checked in _process_request
        key = request.headers.get("Authorization", "").partition(" ")[2]
        with self._recorder.lock:
            record = ConnectionRecord(
                self._recorder,
                len(self._connections),
                scenario.name,
                path,
                dict(parse_qsl(query)),
                _redacted(request.headers),
                key,
            )
            self._connections.append(record)
        self._recorder.changed()
        session = RealtimeSession(ws, scenario, record, self.pacing, self.vad, self._report)
        try:
            await session.run()
        except Exception as exc:
            self._report(exc)
            raise

    def _report(self, exc: BaseException) -> None:
        with self._recorder.lock:
            self._errors.append(exc)
        self._recorder.changed()

    # -- recording -----------------------------------------------------------------------------

    def connections(self) -> list[ConnectionRecord]:
        with self._recorder.lock:
            return list(self._connections)

    def connection(self, index: int = -1) -> ConnectionRecord:
        with self._recorder.lock:
            return self._connections[index]

    def rejections(self) -> list[Rejection]:
        with self._recorder.lock:
            return list(self._rejections)

    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the fake itself (bugs in it): tests should expect none."""
        with self._recorder.lock:
            return list(self._errors)

    def audio_deltas(self) -> list[AudioDeltaSent]:
        """Every audio delta sent, on every connection, in connection order."""
        with self._recorder.lock:
            return [d for c in self._connections for d in c.audio_deltas()]

    def wait_for_connection(self, count: int = 1, timeout_s: float = 10.0) -> ConnectionRecord:
        self.wait_for(lambda: len(self._connections) >= count, timeout_s, f"{count} connection(s)")
        return self.connection(count - 1)

    async def async_wait_for_connection(
        self, count: int = 1, timeout_s: float = 10.0
    ) -> ConnectionRecord:
        what = f"{count} connection(s)"
        await self.async_wait_for(lambda: len(self._connections) >= count, timeout_s, what)
        return self.connection(count - 1)
