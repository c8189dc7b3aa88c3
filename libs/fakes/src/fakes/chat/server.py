"""The fake chat server: aiohttp on loopback, in the caller's event loop (`async with`) or in
a thread of its own (`with`, or `start_in_thread()`/`stop()`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from fakes.chat.answer import DEFAULT_MODEL, _Answer
from fakes.chat.received import API_PREFIX, MODELS_PATH, RecordedRequest
from fakes.chat.replies import REPLY_TYPES, Fail, Reply
from fakes.chat.scenarios import Scenario, default_scenario
from fakes.chat.validation import _invalid_body
from fakes.realtime.recording import Recorder
from fakes.threaded import ThreadableServer

LOGGER = logging.getLogger("fakes.openai_chat")


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    secret = ("authorization", "api-key")
    return {k: ("<redacted>" if k.lower() in secret else v) for k, v in headers.items()}


class _Closing(Exception):
    """The server is shutting down: abandon the answer."""


class FakeChatServer(ThreadableServer):
    """A local stand-in for an OpenAI-compatible `/v1` (chat completions and models).

    `url` is the client's `base_url`. `api_key`, when given, is required as `Authorization:
    Bearer <key>` (401 otherwise); without it any or no key is accepted, as Ollama does.
    `first_token_delay_s` is the time from the response headers to the first chunk (the whole
    answer, not streaming), `chunk_delay_s` the time between chunks. `fail_with_status` answers
    every completion with that error (`Fail(status)`). `validate_messages` rejects, as OpenAI
    does, tool messages that do not answer the tool calls of the assistant message before them.
    """

    thread_name = "fake-openai-chat"

    def __init__(
        self,
        *,
        scenario: Scenario | Reply = default_scenario,
        model: str = DEFAULT_MODEL,
        api_key: str | None = None,
        first_token_delay_s: float = 0.0,
        chunk_delay_s: float = 0.0,
        fail_with_status: int | None = None,
        validate_messages: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.scenario = scenario
        self.model = model
        self.api_key = api_key
        self.first_token_delay_s = first_token_delay_s
        self.chunk_delay_s = chunk_delay_s
        self.fail_with_status = fail_with_status
        self.validate_messages = validate_messages
        self.host = host
        self.port = port
        self._recorder = Recorder()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._closing: asyncio.Event | None = None
        super().__init__()

    @property
    def url(self) -> str:
        """The `base_url` for a client: http://127.0.0.1:PORT/v1."""
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def aclose(self) -> None:
        """Stop listening; answers in progress are abandoned (`aborted`)."""
        runner, self._runner = self._runner, None
        if self._closing is not None:
            self._closing.set()
        if runner is not None:
            await runner.cleanup()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # -- requests --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        with self._recorder.lock:
            record = RecordedRequest(
                index=len(self._requests),
                method=request.method,
                path=request.path,
                headers=_redacted(request.headers),
                body_text=raw.decode("utf-8", "replace"),
            )
            self._requests.append(record)
        bad_json = False
        if raw.strip():
            try:
                record.body = json.loads(raw)
            except ValueError:
                bad_json = True
        self._recorder.changed()
        try:
            try:
                response = await self._dispatch(request, record, bad_json)
            except _Closing:
                response = self._abort(request, record)
            except Exception as exc:
                self._report(exc)
                response = self._fail(record, Fail(500))
            if record.aborted:
                return response
            # Send it now, so that `finished` means the client has the whole answer.
            try:
                await response.prepare(request)
                await response.write_eof()
            except ConnectionError:
                self._update(record, aborted=True)
            return response
        finally:
            self._update(record, finished=True, finished_at=time.monotonic())

    async def _dispatch(
        self, request: web.Request, record: RecordedRequest, bad_json: bool
    ) -> web.StreamResponse:
        if record.path.startswith(API_PREFIX + "/") and (denied := self._unauthorized(request)):
            return self._fail(record, denied)
        if record.path == MODELS_PATH and record.method == "GET":
            body = {
                "object": "list",
                "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}],
            }
            return self._json(record, 200, body)
        if not record.is_completion:
            message = f"Invalid URL ({record.method} {record.path})"
            return self._fail(record, Fail(404, message, "invalid_request_error"))
        if bad_json:
            message = (
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)"
            )
            return self._fail(record, Fail(400, message))
        if problem := _invalid_body(record.body, self.validate_messages):
            return self._fail(record, Fail(400, problem))
        if self.fail_with_status is not None:
            return self._fail(record, Fail(self.fail_with_status))
        scenario = self.scenario
        reply = scenario if isinstance(scenario, REPLY_TYPES) else scenario(record.snapshot())
        if isinstance(reply, Fail):
            self._update(record, reply=reply)
            return self._fail(record, reply)
        answer = _Answer(record, reply)
        self._update(record, reply=answer.resolved_reply)
        if record.stream:
            return await self._stream(request, record, answer)
        await self._pause(self.first_token_delay_s)
        return self._json(record, 200, answer.completion())

    def _unauthorized(self, request: web.Request) -> Fail | None:
        if self.api_key is None:
            return None
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not key.strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return Fail(401, message, "invalid_request_error")
        if key != self.api_key:
            return Fail(401)
        return None

    async def _stream(
        self, request: web.Request, record: RecordedRequest, answer: _Answer
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        self._update(record, status=200)
        await response.prepare(request)
        try:
            for i, chunk in enumerate(answer.chunks()):
                await self._pause(self.first_token_delay_s if i == 0 else self.chunk_delay_s)
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                with self._recorder.lock:
                    record.sent.append(chunk)
                self._recorder.changed()
            await self._pause(self.chunk_delay_s)
            await response.write(b"data: [DONE]\n\n")
            self._update(record, done_sent=True)
            await response.write_eof()
        except ConnectionError:
            self._update(record, aborted=True)
        except _Closing:
            self._abort(request, record)
        return response

    def _abort(self, request: web.Request, record: RecordedRequest) -> web.Response:
        """The server is closing mid-answer: drop the connection, as a dying server does (the
        client sees a broken response, not a clean end)."""
        if request.transport is not None:
            request.transport.abort()
        self._update(record, aborted=True)
        return web.Response(status=503)  # never sent

    async def _pause(self, seconds: float) -> None:
        closing = self._closing
        assert closing is not None
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), seconds)
        if closing.is_set():
            raise _Closing

    def _json(self, record: RecordedRequest, status: int, body: dict[str, Any]) -> web.Response:
        with self._recorder.lock:
            record.status = status
            record.sent.append(body)
        self._recorder.changed()
        return web.json_response(body, status=status)

    def _fail(self, record: RecordedRequest, fail: Fail) -> web.Response:
        response = self._json(record, fail.status, fail.body())
        if fail.retry is not None:
            response.headers["x-should-retry"] = "true" if fail.retry else "false"
        return response

    def _update(self, record: RecordedRequest, **changes: Any) -> None:
        with self._recorder.lock:
            for name, value in changes.items():
                setattr(record, name, value)
        self._recorder.changed()

    def _report(self, exc: BaseException) -> None:
        LOGGER.error("fake chat server error", exc_info=exc)
        with self._recorder.lock:
            self._errors.append(exc)
        self._recorder.changed()

    # -- recording -------------------------------------------------------------------------------

    def requests(self) -> list[RecordedRequest]:
        """Every request received (any path), in order, as snapshots."""
        with self._recorder.lock:
            return [r.snapshot() for r in self._requests]

    def completions(self) -> list[RecordedRequest]:
        """The `POST /v1/chat/completions` requests (answered with an error or not)."""
        return [r for r in self.requests() if r.is_completion]

    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the fake itself (a scenario's among them): expect none."""
        with self._recorder.lock:
            return list(self._errors)

    def _finished_completion(self, count: int) -> RecordedRequest | None:
        done = [r for r in self.completions() if r.finished]
        return done[count - 1] if len(done) >= count else None

    def wait_for_completion(self, count: int = 1, timeout_s: float = 10.0) -> RecordedRequest:
        """The `count`-th chat completion request, once its answer is complete."""
        what = f"{count} answered chat completion(s)"
        self.wait_for(lambda: self._finished_completion(count), timeout_s, what)
        found = self._finished_completion(count)
        assert found is not None
        return found

    async def async_wait_for_completion(
        self, count: int = 1, timeout_s: float = 10.0
    ) -> RecordedRequest:
        what = f"{count} answered chat completion(s)"
        await self.async_wait_for(lambda: self._finished_completion(count), timeout_s, what)
        found = self._finished_completion(count)
        assert found is not None
        return found
