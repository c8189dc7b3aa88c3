"""One connection of the fake Realtime server: the GA protocol as Pipecat 1.14's
`OpenAIRealtimeLLMService` uses it, driven by a `Scenario`.

Client events are handled one at a time, in order; responses run as tasks so that audio keeps
arriving (and can interrupt them) while they stream. websockets writes a text frame
synchronously inside `send()`, so the order of `_send` calls is the order on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from fakes.realtime.audio import BYTES_PER_MS, EnergyVad, VadConfig
from fakes.realtime.protocol import (
    Event,
    decode_tool_output,
    default_session,
    merge,
    message_text,
    new_id,
    session_problem,
)
from fakes.realtime.recording import APPEND, ConnectionRecord, ResponseRecord, UserTurn
from fakes.realtime.responses import (
    ActiveResponse,
    ClosedByScenario,
    Conversation,
    Pacing,
    ResponseWriter,
    Vars,
)
from fakes.realtime.scenarios import Action, CallTool, Fail, Scenario, Speak

MIN_COMMIT_MS = 100  # the real API refuses to commit less audio than this


class RealtimeSession:
    def __init__(
        self,
        ws: ServerConnection,
        scenario: Scenario,
        record: ConnectionRecord,
        pacing: Pacing,
        vad: VadConfig,
        report_error: Callable[[BaseException], None],
    ) -> None:
        self._ws = ws
        self._report_error = report_error
        self._scenario = scenario
        self._record = record
        self._pacing = pacing
        self._session = default_session(record.model or "gpt-realtime")
        self._conversation = Conversation()
        self._vad = EnergyVad(vad)
        self._speech: UserTurn | None = None
        self._buffer_bytes = 0  # appended since the last commit/clear
        self._audio_in_bytes = 0  # appended since the session started
        self._turns = 0  # user turns committed
        self._last_transcript = ""
        self._pending_turn: int | None = None  # committed user turn no response took in yet
        self._pending_outputs: list[str] = []
        self._pending_messages: list[str] = []
        self._active: ActiveResponse | None = None
        self._response_task: asyncio.Task[None] | None = None
        self._error_sent = False
        self._stalled = scenario.stall  # see Scenario.stall_after_turns
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.truncate": self._on_truncate,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.retrieve": self._on_item_retrieve,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }
        self._writer = ResponseWriter(
            self._send, record, self._conversation, scenario, pacing, self._close_mid_response
        )
        record.set_session(self._session)

    # -- connection ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._send({"type": "session.created", "session": self._session})
            async for message in self._ws:
                await self._on_message(message)
        except ConnectionClosed:
            pass
        finally:
            if self._active:
                self._active.stop("connection_closed")
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._record.set_closed(self._ws.close_code)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        async def guarded() -> None:
            try:
                await coro
            except (ConnectionClosed, ClosedByScenario):
                pass
            except Exception as exc:  # a bug in the fake: make it visible, end the connection
                self._report_error(exc)
                await self._ws.close(1011, "fake server error")

        task = asyncio.get_running_loop().create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, event: Event) -> None:
        event = {"event_id": new_id("event"), **event}
        self._record.add_server_event(
            event if event["type"] == "response.output_audio.delta" else copy.deepcopy(event)
        )
        await self._ws.send(json.dumps(event))

    async def _error(
        self, code: str | None, message: str, param: str | None = None, event_id: Any = None
    ) -> None:
        error = {"type": "invalid_request_error", "code": code, "message": message}
        await self._send(
            {"type": "error", "error": {**error, "param": param, "event_id": event_id}}
        )

    async def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self._record.add_client_event({"type": "<binary frame>", "bytes": len(message)})
            await self._error("invalid_message", "Binary frames are not supported.")
            return
        try:
            event = json.loads(message)
        except ValueError as exc:
            self._record.add_client_event({"type": "<invalid json>", "text": message[:200]})
            await self._error("invalid_json", f"The event is not valid JSON: {exc}")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._record.add_client_event({"type": "<no type>", "event": event})
            await self._error("missing_required_parameter", "Missing 'type'.", "type")
            return
        kind = event["type"]
        if kind == APPEND:
            try:
                audio = base64.b64decode(event.get("audio", ""), validate=True)
            except (binascii.Error, TypeError, ValueError):
                self._record.add_client_event({"type": APPEND})
                await self._error("invalid_value", "Invalid 'audio': not base64.", "audio")
                return
            self._record.add_client_event({"type": APPEND}, len(audio))
            if not self._stalled:
                await self._on_audio(audio)
        else:
            self._record.add_client_event(event)
            handler = self._handlers.get(kind)  # unknown types are ignored, as by the real API
            if handler and not self._stalled:
                await handler(event)
        error = self._scenario.error
        if error and not self._error_sent and kind == self._scenario.error_after:
            self._error_sent = True
            await self._send(
                {"type": "error", "error": {**error, "event_id": event.get("event_id")}}
            )

    # -- session -------------------------------------------------------------------------------

    def _input(self) -> Event:
        audio_input: Event = self._session["audio"]["input"]
        return audio_input

    def _turn_detection(self) -> Event | None:
        td = self._input().get("turn_detection")
        return td if isinstance(td, dict) else None

    async def _on_session_update(self, event: Event) -> None:
        session = event.get("session")
        if not isinstance(session, dict):
            await self._error("missing_required_parameter", "Missing 'session'.", "session")
            return
        problem = session_problem(session)
        if problem:
            await self._error(*problem, event_id=event.get("event_id"))
            return
        self._session = merge(self._session, session)
        self._record.set_session(self._session)
        await self._send({"type": "session.updated", "session": self._session})

    # -- user audio ----------------------------------------------------------------------------

    async def _on_audio(self, audio: bytes) -> None:
        self._buffer_bytes += len(audio)
        self._audio_in_bytes += len(audio)
        td = self._turn_detection()
        if td is None:
            return
        silence_ms = int(td.get("silence_duration_ms") or 500)
        padding_ms = int(td.get("prefix_padding_ms") or 300)
        for vad_event in self._vad.feed(audio, silence_ms=silence_ms, prefix_padding_ms=padding_ms):
            if vad_event.kind == "start":
                await self._speech_started(vad_event.audio_ms, td)
            elif self._speech is not None:
                await self._speech_stopped(self._speech, vad_event.audio_ms, td)

    async def _speech_started(self, audio_start_ms: int, td: Event) -> None:
        turn = UserTurn(new_id("item"), audio_start_ms)
        self._speech = turn
        self._record.add_user_turn(turn)
        # Stop the response first, so that no audio delta follows speech_started on the wire.
        barge_in = self._active is not None and td.get("interrupt_response", True) is not False
        if barge_in and self._active:
            self._active.stop("turn_detected")
        event = {"type": "input_audio_buffer.speech_started", "audio_start_ms": audio_start_ms}
        await self._send({**event, "item_id": turn.item_id})

    async def _speech_stopped(self, turn: UserTurn, audio_end_ms: int, td: Event) -> None:
        self._speech = None
        self._record.update(turn, audio_end_ms=audio_end_ms, stopped_at=time.monotonic())
        event = {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": audio_end_ms}
        await self._send({**event, "item_id": turn.item_id})
        await self._commit(turn)
        if self._stalled:
            return
        if td.get("create_response", True) is not False:
            if self._active and self._active.stopped.is_set() and self._response_task:
                # A barged-in response still sending its last events: let it finish first.
                await asyncio.wait({self._response_task})
            if self._active:
                self._record.add_note("user turn ended while a response was still active")
            else:
                await self._start_response("turn", {})

    async def _commit(self, turn: UserTurn) -> None:
        previous = self._conversation.last_item_id()
        self._buffer_bytes = 0
        event = {"type": "input_audio_buffer.committed", "previous_item_id": previous}
        await self._send({**event, "item_id": turn.item_id})
        transcript = self._scenario.user_transcript(self._turns)
        self._pending_turn = self._turns
        self._turns += 1
        limit = self._scenario.stall_after_turns
        if limit is not None and self._turns > limit:
            self._stalled = True
        self._last_transcript = transcript
        item: Event = {
            "id": turn.item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._conversation.items[turn.item_id] = item
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self._send({"type": kind, "previous_item_id": previous, "item": item})
        if self._input().get("transcription"):
            delay = self._scenario.transcription_delay_s
            if delay > 0:
                self._spawn(self._transcribe(turn, transcript, delay))
            else:
                await self._transcribe(turn, transcript, 0)

    async def _transcribe(self, turn: UserTurn, transcript: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        item = self._conversation.items.get(turn.item_id)
        if item is not None:  # (not deleted meanwhile)
            item["content"][0]["transcript"] = transcript
        base = {"item_id": turn.item_id, "content_index": 0}
        kind = "conversation.item.input_audio_transcription"
        await self._send({"type": f"{kind}.delta", **base, "delta": transcript})
        seconds = ((turn.audio_end_ms or 0) - turn.audio_start_ms) / 1000
        usage = {"type": "duration", "seconds": max(0.0, seconds)}
        await self._send(
            {"type": f"{kind}.completed", **base, "transcript": transcript, "usage": usage}
        )
        self._record.update(turn, transcript=transcript)

    async def _on_commit(self, event: Event) -> None:
        buffered_ms = self._buffer_bytes // BYTES_PER_MS
        if buffered_ms < MIN_COMMIT_MS:
            message = (
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms}ms of audio."
            )
            await self._error("input_audio_buffer_commit_empty", message, None, event["event_id"])
            return
        turn, self._speech = self._speech, None
        if turn is None:
            turn = UserTurn(new_id("item"), self._audio_in_bytes // BYTES_PER_MS - buffered_ms)
            self._record.add_user_turn(turn)
        self._vad.reset()
        end_ms = self._audio_in_bytes // BYTES_PER_MS
        self._record.update(turn, audio_end_ms=end_ms, stopped_at=time.monotonic())
        await self._commit(turn)

    async def _on_clear(self, event: Event) -> None:
        self._buffer_bytes = 0
        self._speech = None
        self._vad.reset()
        await self._send({"type": "input_audio_buffer.cleared"})

    # -- conversation items ----------------------------------------------------------------------

    async def _on_item_create(self, event: Event) -> None:
        item = event.get("item")
        event_id = event.get("event_id")
        kinds = ("message", "function_call", "function_call_output")
        if not isinstance(item, dict) or item.get("type") not in kinds:
            await self._error("invalid_value", "Invalid 'item.type'.", "item.type", event_id)
            return
        item = {"object": "realtime.item", "status": "completed", **copy.deepcopy(item)}
        item.setdefault("id", new_id("item"))
        if item["id"] in self._conversation.items:
            message = f"Item with id '{item['id']}' already exists."
            await self._error("item_id_already_exists", message, "item.id", event_id)
            return
        previous = event.get("previous_item_id") or self._conversation.last_item_id()
        self._conversation.items[item["id"]] = item
        for kind in ("conversation.item.added", "conversation.item.done"):
            await self._send({"type": kind, "previous_item_id": previous, "item": item})
        if item["type"] == "function_call_output":
            if item.get("call_id") not in self._conversation.calls:
                self._record.add_note(
                    f"function_call_output for unknown call {item.get('call_id')}"
                )
            self._pending_outputs.append(decode_tool_output(str(item.get("output", ""))))
        elif item["type"] == "message":
            self._pending_messages.append(message_text(item))

    async def _on_truncate(self, event: Event) -> None:
        item_id = event.get("item_id")
        audio_end_ms = event.get("audio_end_ms")
        if not isinstance(item_id, str) or item_id not in self._conversation.assistant_audio_ms:
            message = f"Item with item_id '{item_id}' not found or has no audio."
            await self._error("invalid_value", message, "item_id", event.get("event_id"))
            return
        if (
            not isinstance(audio_end_ms, int)
            or audio_end_ms > self._conversation.assistant_audio_ms[item_id]
        ):
            message = "audio_end_ms is greater than the audio duration."
            await self._error("invalid_value", message, "audio_end_ms", event.get("event_id"))
            return
        content_index = event.get("content_index", 0)
        truncated = {"item_id": item_id, "content_index": content_index}
        await self._send(
            {"type": "conversation.item.truncated", **truncated, "audio_end_ms": audio_end_ms}
        )

    async def _on_item_delete(self, event: Event) -> None:
        item_id = event.get("item_id")
        if self._conversation.items.pop(str(item_id), None) is None:
            message = f"Item with item_id '{item_id}' not found."
            await self._error("invalid_value", message, "item_id", event.get("event_id"))
            return
        await self._send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _on_item_retrieve(self, event: Event) -> None:
        item = self._conversation.items.get(str(event.get("item_id")))
        if item is None:
            message = f"Item with item_id '{event.get('item_id')}' not found."
            code = "item_retrieve_invalid_item_id"
            await self._error(code, message, "item_id", event.get("event_id"))
            return
        await self._send({"type": "conversation.item.retrieved", "item": item})

    # -- responses -------------------------------------------------------------------------------

    async def _on_response_create(self, event: Event) -> None:
        if self._active:
            message = (
                f"Conversation already has an active response in progress: "
                f"{self._active.record.id}. Wait until the response is finished before "
                "creating a new one."
            )
            code = "conversation_already_has_active_response"
            await self._error(code, message, None, event.get("event_id"))
            return
        properties = event.get("response")
        await self._start_response("client", properties if isinstance(properties, dict) else {})

    async def _on_response_cancel(self, event: Event) -> None:
        if not self._active:
            message = "Cancellation failed: no active response found"
            await self._error("response_cancel_not_active", message, None, event.get("event_id"))
            return
        self._active.stop("client_cancelled")

    async def _start_response(self, source: str, properties: Event) -> None:
        scenario = self._scenario
        action: Action
        if source == "client" and self._pending_outputs:
            trigger, action = "tool_output", scenario.after_tool
        elif self._pending_turn is not None:
            trigger, action = "turn", scenario.turn_action(self._pending_turn)
        elif self._pending_messages:
            trigger, action = "request", scenario.on_request
        else:
            trigger, action = "greeting", scenario.greeting
        variables = Vars(
            transcript=self._last_transcript,
            tool_output=" ".join(self._pending_outputs),
            last_message=self._pending_messages[-1] if self._pending_messages else "",
            instructions=properties.get("instructions") or self._session.get("instructions", ""),
        )
        # A response takes in everything delivered before it.
        self._pending_turn = None
        self._pending_outputs = []
        self._pending_messages = []
        if isinstance(action, CallTool) and action.name not in self._tool_names():
            self._record.add_note(f"scripted call to undeclared tool {action.name!r}: spoke")
            action = Speak(f"Sorry, the {action.name} tool is not available.")
        kind = {Speak: "speak", CallTool: "call_tool", Fail: "fail"}[type(action)]
        active = ActiveResponse(ResponseRecord(new_id("resp"), trigger, kind))
        self._active = active
        self._record.add_response(active.record)

        def finished() -> None:
            if self._active is active:
                self._active = None

        voice = self._session["audio"]["output"].get("voice")
        self._response_task = self._spawn(
            self._writer.run(active, action, variables, voice, finished)
        )

    def _tool_names(self) -> set[str]:
        tools = self._session.get("tools") or []
        return {str(t.get("name")) for t in tools if isinstance(t, dict)}

    async def _close_mid_response(self) -> None:
        code = self._scenario.close_code
        if code is None:
            self._ws.transport.abort()
        else:
            await self._ws.close(code, "scripted close mid-response")
