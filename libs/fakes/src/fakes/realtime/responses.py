"""Assistant responses of the fake Realtime server: speech (audio deltas with a transcript),
function calls and failures, each bracketed by response.created and response.done."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fakes.realtime.audio import BYTES_PER_MS, assistant_audio
from fakes.realtime.protocol import PCM_FORMAT, Event, new_id
from fakes.realtime.recording import AudioDeltaSent, ConnectionRecord, ResponseRecord
from fakes.realtime.scenarios import Action, CallTool, Fail, Scenario, Speak


@dataclass(frozen=True)
class Pacing:
    """How assistant audio is sent: `chunk_ms` per delta, at `speed` x real time (inf: no
    pacing)."""

    speed: float = 1.25
    chunk_ms: int = 40


class Vars(dict[str, str]):
    """Template variables of a scenario's texts; a missing one is empty."""

    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Conversation:
    """The server side of one conversation, shared by the session and its responses."""

    id: str = field(default_factory=lambda: new_id("conv"))
    items: dict[str, Event] = field(default_factory=dict)  # in conversation order
    assistant_audio_ms: dict[str, int] = field(default_factory=dict)  # audio sent per item
    calls: dict[str, str] = field(default_factory=dict)  # call_id -> function name
    deltas_sent: int = 0
    deltas_toward_close: int = 0  # see Scenario.close_after_deltas

    def last_item_id(self) -> str | None:
        return next(reversed(self.items), None)


@dataclass
class ActiveResponse:
    record: ResponseRecord
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""

    def stop(self, reason: str) -> None:
        """Cancel: no audio delta is sent after this call returns."""
        if not self.stopped.is_set():
            self.reason = reason
            self.stopped.set()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if the response is stopped meanwhile."""
        if seconds > 0 and not self.stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await self.stopped.wait()


class ClosedByScenario(Exception):
    """The scenario closed the connection mid-response."""


Send = Callable[[Event], Awaitable[None]]


class ResponseWriter:
    def __init__(
        self,
        send: Send,
        record: ConnectionRecord,
        conversation: Conversation,
        scenario: Scenario,
        pacing: Pacing,
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._send = send
        self._record = record
        self._conversation = conversation
        self._scenario = scenario
        self._pacing = pacing
        self._close = close

    async def run(
        self,
        active: ActiveResponse,
        action: Action,
        variables: Vars,
        voice: str | None,
        finished: Callable[[], None],
    ) -> None:
        """Send the whole response; `finished()` runs right before response.done is sent (the
        client may create the next response as soon as it sees it)."""
        rid = active.record.id
        try:
            created = _response(rid, "in_progress", [], self._conversation.id, voice)
            await self._send({"type": "response.created", "response": created})
            await active.pause(self._scenario.response_delay_s)
            output: list[Event] = []
            if active.stopped.is_set():
                pass
            elif isinstance(action, Speak):
                output = await self._speak(active, action.text.format_map(variables), action)
            elif isinstance(action, CallTool):
                output = await self._call_tool(active, action, variables)
            details: Event | None = None
            if active.stopped.is_set():
                status = "cancelled"
                details = {"type": "cancelled", "reason": active.reason}
            elif isinstance(action, Fail):
                status = "failed"
                error = {"type": "server_error", "code": action.code, "message": action.message}
                details = {"type": "failed", "error": error}
            else:
                status = "completed"
            finished()
            self._record.update(active.record, status=status, done_at=time.monotonic())
            done = _response(rid, status, output, self._conversation.id, voice)
            done.update(status_details=details, usage=_usage(active.record))
            await self._send({"type": "response.done", "response": done})
        finally:
            if active.record.status == "in_progress":  # the connection went away
                self._record.update(active.record, status="aborted", done_at=time.monotonic())

    async def _add_output_item(self, rid: str, item: Event) -> None:
        previous = self._conversation.last_item_id()
        self._conversation.items[item["id"]] = item
        added = {"response_id": rid, "output_index": 0, "item": dict(item)}
        await self._send({"type": "response.output_item.added", **added})
        await self._send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": dict(item)}
        )

    async def _finish_output_item(self, rid: str, item: Event) -> None:
        self._conversation.items[item["id"]] = item
        await self._send({"type": "conversation.item.done", "item": item})
        done = {"response_id": rid, "output_index": 0, "item": item}
        await self._send({"type": "response.output_item.done", **done})

    async def _call_tool(
        self, active: ActiveResponse, action: CallTool, variables: Vars
    ) -> list[Event]:
        rid = active.record.id
        arguments = json.dumps(
            {
                key: value.format_map(variables) if isinstance(value, str) else value
                for key, value in action.arguments.items()
            }
        )
        item_id, call_id = new_id("item"), new_id("call")
        self._conversation.calls[call_id] = action.name
        self._record.update(
            active.record, item_id=item_id, call_id=call_id, name=action.name, arguments=arguments
        )
        item: Event = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": action.name,
            "call_id": call_id,
            "arguments": "",
        }
        # Pipecat needs the item (with the name) before the arguments.
        await self._add_output_item(rid, item)
        where = {"response_id": rid, "item_id": item_id, "output_index": 0, "call_id": call_id}
        await self._send(
            {"type": "response.function_call_arguments.delta", **where, "delta": arguments}
        )
        await self._send(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": action.name,
                "arguments": arguments,
            }
        )
        item = {**item, "status": "completed", "arguments": arguments}
        await self._finish_output_item(rid, item)
        return [item]

    async def _speak(self, active: ActiveResponse, text: str, action: Speak) -> list[Event]:
        rid = active.record.id
        chunk_ms = self._pacing.chunk_ms
        audio = assistant_audio(action.duration_ms(text, chunk_ms))
        item_id = new_id("item")
        self._conversation.assistant_audio_ms[item_id] = 0
        self._record.update(active.record, item_id=item_id, text=text)
        item: Event = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self._add_output_item(rid, item)
        where = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        part = {"type": "audio", "transcript": ""}
        await self._send({"type": "response.content_part.added", **where, "part": part})

        # The transcript's words go out spread over the audio, each just before its chunk.
        words = re.findall(r"\S+\s*", text)
        chunk_bytes = chunk_ms * BYTES_PER_MS
        chunks = math.ceil(len(audio) / chunk_bytes)
        speed = self._pacing.speed
        interval = 0.0 if math.isinf(speed) else chunk_ms / 1000 / speed
        loop = asyncio.get_running_loop()
        started = loop.time()
        said = sent_bytes = 0
        for k in range(chunks):
            await active.pause(started + k * interval - loop.time())
            if active.stopped.is_set():
                break
            while said < math.ceil((k + 1) * len(words) / chunks):
                delta = {"type": "response.output_audio_transcript.delta", "delta": words[said]}
                await self._send({**delta, **where})
                said += 1
            chunk = audio[k * chunk_bytes : (k + 1) * chunk_bytes]
            seq = self._conversation.deltas_sent
            sent = AudioDeltaSent(
                self._record.index, rid, item_id, seq, sent_bytes, len(chunk), time.monotonic()
            )
            self._record.add_audio_delta(sent)
            encoded = base64.b64encode(chunk).decode()
            await self._send({"type": "response.output_audio.delta", **where, "delta": encoded})
            self._conversation.deltas_sent += 1
            sent_bytes += len(chunk)
            self._conversation.assistant_audio_ms[item_id] = sent_bytes // BYTES_PER_MS
            self._record.update(active.record, audio_bytes=sent_bytes)
            if active.record.trigger in self._scenario.close_triggers:
                self._conversation.deltas_toward_close += 1
                limit = self._scenario.close_after_deltas
                if limit is not None and self._conversation.deltas_toward_close >= limit:
                    await self._close()
                    raise ClosedByScenario

        spoken = "".join(words[:said]).strip()
        await self._send({"type": "response.output_audio.done", **where})
        await self._send(
            {"type": "response.output_audio_transcript.done", **where, "transcript": spoken}
        )
        part = {"type": "audio", "transcript": spoken}
        await self._send({"type": "response.content_part.done", **where, "part": part})
        status = "incomplete" if active.stopped.is_set() else "completed"
        content = [{"type": "output_audio", "transcript": spoken}]
        item = {**item, "status": status, "content": content}
        await self._finish_output_item(rid, item)
        return [item]


def _response(
    rid: str, status: str, output: list[Event], conversation_id: str, voice: str | None
) -> Event:
    return {
        "object": "realtime.response",
        "id": rid,
        "status": status,
        "status_details": None,
        "output": output,
        "conversation_id": conversation_id,
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": dict(PCM_FORMAT), "voice": voice}},
        "usage": None,
        "metadata": None,
    }


def _usage(record: ResponseRecord) -> Event:
    text_tokens = max(1, len(record.text or record.arguments or "") // 4)
    audio_tokens = record.audio_bytes // (BYTES_PER_MS * 50)
    return {
        "total_tokens": 150 + text_tokens + audio_tokens,
        "input_tokens": 150,
        "output_tokens": text_tokens + audio_tokens,
        "input_token_details": {"text_tokens": 100, "audio_tokens": 50, "cached_tokens": 0},
        "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens},
    }
