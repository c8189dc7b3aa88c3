"""Pipecat's OpenAI Realtime service, made to notice a failing upstream.

Why: Pipecat 1.14's Realtime service notices a closed upstream only at its next send, says
nothing while the user is silent, and does not mind an upstream that never sets the session up
or hangs mid-turn. A voice session must end with a clear error in each case instead.

Pipecat has no public hook for these, so `RealtimeLLM` overrides private methods of the service
(`_connect`, `_disconnect`, `_receive_task_handler`, two event handlers) and reads three of its
private attributes. That ties this module to the exact Pipecat version pinned in pyproject.toml:
`self_check()` runs at startup (the gateway does not start with the Realtime brain otherwise)
and in a canary test, and names what an upgrade changed.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from websockets.exceptions import ConnectionClosed

from voice_gateway.adapters.pipecat_version import PipecatMismatch, require_pipecat_version
from voice_gateway.brains.upstream_stall import StallWatch, StampedSocket

# What RealtimeLLM overrides, and what it reads, of Pipecat's service.
OVERRIDDEN = (
    "_connect",
    "_disconnect",
    "_receive_task_handler",
    "_handle_evt_speech_stopped",
    "_handle_evt_response_done",
)
READ = ("_websocket", "_api_session_ready", "_disconnecting")


class RealtimeLLM(OpenAIRealtimeLLMService):
    """Pipecat 1.14's Realtime service notices a closed upstream only at its next send, and
    says nothing while the user is silent: here the closing itself is the error. Nor does it
    mind an upstream that connects and never sets the session up: here that is an error too,
    after `ready_timeout_s`. Nor one that hangs mid-turn, owing an answer: an error after
    `stall_timeout_s` of silence (`upstream_stall.py`)."""

    def __init__(self, *, ready_timeout_s: float, stall_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ready_timeout_s = ready_timeout_s
        self._ready_watch: asyncio.Task[None] | None = None
        self._stall = StallWatch(stall_timeout_s)
        self._stall_watch: asyncio.Task[None] | None = None

    async def _connect(self) -> None:
        await super()._connect()  # type: ignore[no-untyped-call]
        connected: object = self._websocket  # Pipecat annotates it as always None
        if connected is None:
            return
        if not isinstance(connected, StampedSocket):
            # Before the receive task (created just now) first reads from it.
            self._websocket = StampedSocket(connected, self._stall)  # type: ignore[assignment]
            self._stall.answered()
            self._stall.saw_event()
        if self._ready_watch is None:
            self._ready_watch = self.create_task(self._watch_ready())
        if self._stall_watch is None:
            self._stall_watch = self.create_task(self._watch_stall())

    async def _disconnect(self) -> None:
        for task in (self._ready_watch, self._stall_watch):
            if task is not None:
                await self.cancel_task(task)
        self._ready_watch = self._stall_watch = None
        await super()._disconnect()  # type: ignore[no-untyped-call]

    async def send_client_event(self, event: events.ClientEvent) -> None:
        if isinstance(event, events.ResponseCreateEvent):
            self._stall.answer_owed()
        await super().send_client_event(event)

    async def _handle_evt_speech_stopped(self, evt: Any) -> None:
        self._stall.answer_owed()  # server VAD: the turn is committed and answered next
        await super()._handle_evt_speech_stopped(evt)  # type: ignore[no-untyped-call]

    async def _handle_evt_response_done(self, evt: Any) -> None:
        self._stall.answered()
        await super()._handle_evt_response_done(evt)

    async def _watch_stall(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self._stall.timeout_s / 4))
            quiet = self._stall.stalled_for()
            if quiet is not None and not self._disconnecting:
                await self.push_error(
                    error_msg=f"The Realtime API stopped answering mid-turn ({quiet:.0f} s)"
                )
                return

    async def _watch_ready(self) -> None:
        await asyncio.sleep(self._ready_timeout_s)
        if not self._api_session_ready and not self._disconnecting:
            waited = f"{self._ready_timeout_s:g} s"
            await self.push_error(
                error_msg=f"The Realtime API did not set up the session in {waited}"
            )

    async def _receive_task_handler(self) -> None:
        detail = "closed the connection"
        try:
            await super()._receive_task_handler()  # type: ignore[no-untyped-call]
        except ConnectionClosed as exc:
            detail = f"closed the connection ({exc})"
        if not self._disconnecting:  # not our own disconnect or a conversation reset
            await self.push_error(error_msg=f"The Realtime API {detail}")


def self_check() -> None:
    """Check that Pipecat's Realtime service still has what `RealtimeLLM` overrides and reads.
    Raises `PipecatMismatch` saying what is missing."""
    require_pipecat_version("pipecat_realtime.py", "Realtime service methods it overrides")
    for name in OVERRIDDEN:
        theirs = getattr(OpenAIRealtimeLLMService, name, None)
        if theirs is None or not inspect.iscoroutinefunction(theirs):
            raise PipecatMismatch(f"OpenAIRealtimeLLMService.{name} is gone or not a coroutine")
    service = OpenAIRealtimeLLMService(api_key="self-check")
    missing = [name for name in READ if not hasattr(service, name)]
    if missing:
        raise PipecatMismatch(f"OpenAIRealtimeLLMService no longer sets {', '.join(missing)}")
