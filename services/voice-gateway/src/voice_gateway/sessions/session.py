"""One voice session: the browser's socket, a Pipecat pipeline around the brain, and every
way it can end (client closed, idle, max duration, upstream error, stopped, shutdown)."""

import asyncio
import contextlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from fastapi import WebSocket
from pipecat.frames.frames import EndFrame, Frame, LLMRunFrame
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts import ConversationEvent, EventSource, EventType
from contracts.browser import (
    SAMPLE_RATE,
    ClientStats,
    Error,
    ErrorCode,
    Floor,
    Latency,
    Progress,
    SessionState,
    Speaking,
    Transcription,
)
from contracts.keys import live_events_channel
from contracts.progress import progress_of
from contracts.session import EndReason
from service_kit.outbox import EventOutbox
from service_kit.pubsub import Published, follow
from voice_gateway import metrics
from voice_gateway.adapters.uvicorn_adapter import send_guard
from voice_gateway.brains.brain import Brain, BrainFactory, Persona, spoken_answer
from voice_gateway.processors.noise_suppression import noise_filter
from voice_gateway.processors.taps import AudioInMeter, AudioOutMeter, TurnClock
from voice_gateway.recordings.recorder import SessionRecorder, tap
from voice_gateway.recordings.store_client import RecordingStoreClient
from voice_gateway.sessions.pipeline import SessionHooks, voice_pipeline
from voice_gateway.sessions.registry import SessionInfo, SessionRegistry
from voice_gateway.settings import Settings
from voice_gateway.tools.definitions import ToolCaller
from voice_gateway.tools.dispatch import ToolDispatcher
from voice_gateway.transport.formats import WireFormat
from voice_gateway.transport.guests import Guest
from voice_gateway.transport.resumable_socket import ResumableSocket, Resumed
from voice_gateway.transport.wire import ClientProtocolError, GuardedSerializer

log = structlog.get_logger(__name__)

# client_stalled has no close code: the connection is aborted (see uvicorn_adapter.py).
END_GRACE_S = 5.0
# Seconds of frames a dropped connection may have lost in flight (sent again on a resume).
RESUME_IN_FLIGHT_S = 2.0
# A joined device's sends get this long, not the session's own (client_send_timeout_s): it is
# written to alongside the session's own device, and must not hold everyone up for longer.
GUEST_SEND_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Services:
    """What every session shares, built once in the app's lifespan."""

    settings: Settings
    redis: Redis
    outbox: EventOutbox
    dispatcher: ToolDispatcher
    registry: SessionRegistry
    make_brain: BrainFactory
    brain_problem: str | None = None  # why sessions are refused, when the brain cannot run
    recordings: RecordingStoreClient | None = None  # the event-store's, for recorded sessions


class VoiceSession:
    def __init__(
        self,
        websocket: WebSocket,
        conversation_id: str,
        persona: Persona,
        client: str,
        services: Services,
        wire_format: WireFormat,
        device: str = "device-1",
        record: bool | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.conversation_id = conversation_id
        self.wire_format = wire_format.name
        settings = services.settings
        # Shown once to the client (in `started`), asked back on a resume: only the client that
        # opened the session can carry it on. Never logged or stored.
        self._resume_key = secrets.token_urlsafe(24)
        # The session outlives a dropped connection, and every close says why the session
        # ended (resumable_socket.py).
        self._ws = ResumableSocket(
            websocket,
            end_reason=lambda: self.reason,
            resume_s=settings.resume_s,
            replay_bytes=settings.resume_replay_bytes,
            device=device,
            on_detached=self._detached,
            on_expired=lambda: self.end(EndReason.RESUME_EXPIRED),
            on_floor=self._floor,
            on_guest_left=self._guest_left,
            on_own_left=self._own_left,
        )
        self._notices: set[asyncio.Task[None]] = set()  # floor messages on their way
        self._persona = persona
        self._client = client
        self._services = services
        self._format = wire_format
        self._ended = asyncio.Event()
        self.reason: str = EndReason.CLIENT_CLOSED
        self._worker: PipelineWorker | None = None
        self._serializer: GuardedSerializer | None = None
        self._clock = TurnClock(on_latency=self._latency)
        # Recorded: the query's `record`, else GATEWAY_RECORD_DEFAULT (recordings/).
        self._record = settings.record_default if record is None else record
        self._recorder: SessionRecorder | None = None
        self._log = log.bind(conversation_id=conversation_id, session_id=self.id)
        self._guard(websocket)

    def _guard(self, websocket: WebSocket) -> None:
        guard = send_guard(websocket)  # every send is bounded in time (uvicorn_adapter.py)
        if guard is not None:
            guard.on_stalled = self._stalled

    def resume_key_matches(self, key: str) -> bool:
        return hmac.compare_digest(key.encode(), self._resume_key.encode())

    async def resume(self, websocket: WebSocket, client_received: int) -> Resumed:
        """Carry the session on over `websocket` (its key already checked): the `resumed`
        answer, then what the client missed. Raises `ResumeRefused`."""
        resumed = await self._ws.attach(websocket, client_received, answer=self._before_replay)
        self._guard(websocket)
        metrics.SESSIONS_RESUMED.inc()
        metrics.RESUME_GAP_SECONDS.observe(resumed.gap_s)
        self._log.info(
            "session_resumed",
            gap_ms=round(resumed.gap_s * 1000),
            replayed=resumed.replayed,
            skipped=resumed.skipped,
        )
        self._event(
            "controller",
            "session_resumed",
            session_id=self.id,
            gap_ms=round(resumed.gap_s * 1000),
            replayed=resumed.replayed,
            skipped=resumed.skipped,
        )
        return resumed

    def _before_replay(self, resumed: Resumed) -> str:
        """The `resumed` answer. Before it goes out, the frame rate limit lets through at once
        what the client captured while away (and what was lost in flight), which it sends as
        soon as it reads the answer."""
        if self._serializer is not None:
            frames_per_s = self._services.settings.max_frames_per_second
            self._serializer.grant((resumed.gap_s + RESUME_IN_FLIGHT_S) * frames_per_s)
        return SessionState(
            state="resumed",
            session_id=self.id,
            conversation_id=self.conversation_id,
            received=resumed.received,
            replayed=resumed.replayed,
            skipped=resumed.skipped,
        ).model_dump_json(exclude_none=True)

    async def join(
        self, websocket: WebSocket, device: str, *, speaker: bool, device_id: str | None = None
    ) -> None:
        """Another device joins the live session (its request checked): it hears everything
        from now on, and may speak when it holds the floor. Returns when it leaves. Raises
        `ResumeRefused` with the reason it cannot."""
        role: Literal["speaker", "listener"] = "speaker" if speaker else "listener"

        def answer(name: str) -> str:  # the name it gets: another device may hold the one asked
            return SessionState(
                state="joined",
                session_id=self.id,
                conversation_id=self.conversation_id,
                device=name,
                role=role,
            ).model_dump_json(exclude_none=True)

        guard = send_guard(websocket)
        if guard is not None:  # too slow to keep up: that device is dropped (it joins again)
            guard.timeout_s = min(guard.timeout_s, GUEST_SEND_TIMEOUT_S)
        guest = await self._ws.join(
            websocket, device, speaker=speaker, answer=answer, device_id=device_id
        )
        device = guest.device
        metrics.DEVICES_JOINED.labels(role).inc()
        self._log.info("device_joined", device=device, role=role)
        self._event("controller", "device_joined", session_id=self.id, device=device, role=role)
        await guest.released.wait()

    @property
    def devices(self) -> list[str]:
        """The devices in the session: its own (until it left for good), then those that
        joined."""
        return self._ws.devices

    def _own_left(self) -> None:
        """This session's own device left; the devices that joined carry the session on."""
        metrics.DEVICES_LEFT.inc()
        self._log.info("device_left", device=self._ws.device, others=self._ws.guests.devices)
        self._event("controller", "device_left", session_id=self.id, device=self._ws.device)

    def _guest_left(self, guest: Guest) -> None:
        metrics.DEVICES_LEFT.inc()
        self._log.info("device_left", device=guest.device)
        self._event("controller", "device_left", session_id=self.id, device=guest.device)

    def _floor(self, device: str | None) -> None:
        """Tell every device who holds the floor (sent in order with the session's frames)."""
        task = asyncio.create_task(self.send(Floor(device=device)), name="floor-notice")
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def wait_released(self, websocket: WebSocket) -> None:
        """Until `websocket` no longer carries this session."""
        await self._ws.wait_released(websocket)

    def _detached(self, code: int) -> None:
        metrics.SESSIONS_DETACHED.inc()
        self._log.info(
            "session_detached", close_code=code, resume_s=self._services.settings.resume_s
        )

    def _stalled(self) -> None:
        self._ws.mark_gone()  # the connection is already aborted
        metrics.ERRORS.labels("client_stalled").inc()
        self._log.warning("client_stalled", timeout_s=self._services.settings.client_send_timeout_s)
        self.end(EndReason.CLIENT_STALLED)

    def end(self, reason: str) -> None:
        """Ask the session to end; the first reason given is the one recorded."""
        if not self._ended.is_set():
            self.reason = reason
            self._ended.set()

    async def run(self) -> str:
        services, settings = self._services, self._services.settings
        started = time.monotonic()
        metrics.SESSIONS_ACTIVE.inc()
        with contextlib.suppress(RedisError, OSError):
            await services.registry.add(
                SessionInfo(
                    self.id,
                    self.conversation_id,
                    services.registry.replica,
                    self._client,
                    settings.brain or "openai",
                    self._format.name,
                    time.time(),
                )
            )
        self._event(
            "controller",
            "session_started",
            brain=settings.brain,
            voice=self._persona.voice,
            agent_name=self._persona.agent_name,
            session_id=self.id,
        )
        try:
            await self._converse()
        except Exception:  # a brain that fails to build must not leave the session half-open
            self._log.exception("session_failed")
            self.end(EndReason.ERROR)
            with contextlib.suppress(Exception):
                await self._ws.close()
        finally:
            metrics.SESSIONS_ACTIVE.dec()
            metrics.SESSIONS_ENDED.labels(self.reason).inc()
            with contextlib.suppress(RedisError, OSError):
                await services.registry.remove(self.id)
            if self._recorder is not None:
                await self._recorder.close()  # bounded; never raises
            self._event(
                "controller",
                "session_stopped",
                session_id=self.id,
                reason=self.reason,
                duration_s=round(time.monotonic() - started, 1),
            )
            self._log.info("session_stopped", reason=self.reason)
        return self.reason

    async def _converse(self) -> None:
        services, settings = self._services, self._services.settings
        caller = ToolCaller(
            services.dispatcher,
            self.conversation_id,
            settings.tool_deadline_s,
            to_client=self.send,
            publish=services.outbox.publish,
        )
        # A local brain loads its VAD and smart-turn models (about 50 ms of CPU): other
        # sessions' audio keeps flowing while it does.
        brain = await asyncio.to_thread(
            services.make_brain, settings, self._persona, caller, self._queue
        )
        worker = self._worker = self._build(brain)
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        running = asyncio.create_task(runner.run())
        follower = asyncio.create_task(self._follow_progress(brain, caller))
        idle = asyncio.create_task(self._watch_idle(settings.idle_timeout_s))
        try:
            if brain.run_on_start:
                await worker.queue_frame(LLMRunFrame())
            if brain.greeting:
                await worker.queue_frames(spoken_answer(brain.greeting))
            await self.send(
                SessionState(
                    state="started",
                    session_id=self.id,
                    conversation_id=self.conversation_id,
                    resume_key=self._resume_key,
                    resume_s=settings.resume_s,
                    device=self._ws.device,
                )
            )
            ended = asyncio.create_task(self._ended.wait())
            done, _ = await asyncio.wait(
                {ended, running},
                timeout=settings.max_duration_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            ended.cancel()
            if not done:
                self.end(EndReason.MAX_DURATION)
            elif running in done:
                self.end(EndReason.CLIENT_CLOSED)
        finally:
            idle.cancel()
            await self._finish(worker, running, follower)
            if brain.close is not None:
                with contextlib.suppress(Exception):
                    await brain.close()

    def _build(self, brain: Brain) -> PipelineWorker:
        settings, clock = self._services.settings, self._clock
        recorder = self._recorder = self._new_recorder()
        self._serializer = self._format.serializer(
            settings.max_frames_per_second,
            on_audio=tap(AudioInMeter(clock), recorder.user if recorder else None),
            on_audio_out=tap(AudioOutMeter(), recorder.assistant if recorder else None),
        )
        transport = FastAPIWebsocketTransport(
            self._ws.as_websocket(),
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=SAMPLE_RATE,
                audio_out_sample_rate=SAMPLE_RATE,
                # Pipecat's default plays 2 s of silence after the end, delaying the close.
                audio_out_end_silence_secs=0,
                serializer=self._serializer,
                allowed_origins=[],  # checked before the socket is accepted
                audio_in_filter=noise_filter(settings),  # GATEWAY_NOISE_FILTER
            ),
        )

        async def stop() -> None:
            if len(self._ws.guests):  # others are there: this device leaves, they go on
                await self._ws.leave()
            else:
                self.end(EndReason.CLIENT_CLOSED)

        def bad_frame(error: ClientProtocolError) -> None:
            metrics.ERRORS.labels(error.code).inc()

        async def on_error(error: str, fatal: bool) -> None:
            if fatal or brain.errors_end_session:
                await self._upstream_error(error)
            else:
                await self._turn_error(error)

        hooks = SessionHooks(
            on_stop=stop,
            on_bad_frame=bad_frame,
            on_text=self._said,
            on_error=on_error,
            on_speaking=self._speaking,
            on_client_stats=self._client_stats,
        )
        pipeline = voice_pipeline(
            transport.input(), transport.output(), brain, self._format, clock, hooks
        )
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=brain.in_sample_rate, audio_out_sample_rate=SAMPLE_RATE
            ),
            enable_rtvi=self._format.rtvi,
            # Turn tracking feeds OpenTelemetry traces, which are off; it costs an observer
            # call per frame.
            enable_turn_tracking=False,
            # Idle is watched from the turn clock (`_watch_idle`): Pipecat's idle detection is
            # another observer call per frame.
            idle_timeout_secs=None,
        )

        @transport.event_handler("on_client_disconnected")  # type: ignore[untyped-decorator]
        async def _gone(*_: Any) -> None:
            self.end(EndReason.CLIENT_CLOSED)

        return worker

    def _new_recorder(self) -> SessionRecorder | None:
        store = self._services.recordings
        if not self._record or store is None:
            return None
        return SessionRecorder(
            store,
            self.conversation_id,
            self.id,
            on_event=lambda type_, payload: self._event("controller", type_, **payload),
            # The user's audio may come late by as much as a resume's gap (recordings/aligner.py).
            hold_s=self._services.settings.resume_s + 5,
        )

    async def _watch_idle(self, idle_s: float) -> None:
        """End the session when neither side has spoken for `idle_s` (streamed silence does not
        count: a forgotten open tab should not hold a session forever)."""
        while True:  # the deadline moves with every activity: sleep until the latest one
            left = self._clock.last_activity + idle_s - time.monotonic()
            if left <= 0:
                self.end(EndReason.IDLE)
                return
            await asyncio.sleep(left)

    async def send(self, message: BaseModel) -> None:
        await self._queue(self._format.envelope(message))

    async def _queue(self, frame: Frame) -> None:
        if self._worker is not None:
            await self._worker.queue_frame(frame)

    async def _said(self, role: str, text: str) -> None:
        if role != "user":
            await self.send(Transcription(text=text, role="assistant"))
            self._event("voice", "transcript", role=role, text=text)
            return
        # Heard from the device that last held the floor (the only one, with no other device).
        device = self._ws.floor.last_speaker or self._ws.device
        await self.send(Transcription(text=text, role="user", device=device))
        self._event("voice", "transcript", role=role, text=text, device=device)

    async def _client_stats(self, stats: ClientStats) -> None:
        """What the listener heard of a turn: exported, and kept with the conversation."""
        if stats.mouth_to_ear_ms is not None:
            metrics.CLIENT_MOUTH_TO_EAR_SECONDS.observe(stats.mouth_to_ear_ms / 1000)
        metrics.CLIENT_UNDERRUN_SECONDS.observe(stats.underrun_ms / 1000)
        metrics.CLIENT_UNDERRUNS.inc(stats.underruns)
        metrics.CLIENT_PLAYED_SECONDS.inc(stats.played_ms / 1000)
        metrics.CLIENT_JITTER_BUFFER_SECONDS.observe(stats.buffer_ms / 1000)
        self._event(EventSource.VOICE, EventType.CLIENT_STATS, **stats.model_dump(exclude={"type"}))

    async def _speaking(self, speaking: bool) -> None:
        await self.send(Speaking(speaking=speaking))

    async def _latency(self, metric: str, seconds: float) -> None:
        await self.send(Latency(metric=metric, ms=round(seconds * 1000, 1)))

    async def _upstream_error(self, error: str) -> None:
        metrics.ERRORS.labels("upstream").inc()
        self._log.warning("upstream_error", error=error)
        message = "The voice model's connection failed; the session has ended."
        await self.send(Error(code=ErrorCode.UPSTREAM_ERROR, message=message, fatal=True))
        self._event("voice", "error", kind="upstream", message=error[:500])
        self.end(EndReason.UPSTREAM_ERROR)

    async def _turn_error(self, error: str) -> None:
        """A part of the brain failed on this turn; the session goes on."""
        metrics.ERRORS.labels("brain").inc()
        self._log.warning("brain_error", error=error)
        message = "Something went wrong answering that; please say it again."
        await self.send(Error(code=ErrorCode.BRAIN_ERROR, message=message, fatal=False))
        self._event("voice", "error", kind="brain", message=error[:500])

    async def _follow_progress(self, brain: Brain, caller: ToolCaller) -> None:
        """Team and Claude Code progress: to the browser, and as tagged lines to the model."""

        async def on_message(message: Published) -> None:
            await self._on_progress(brain, caller, message.data)

        channel = live_events_channel(self.conversation_id)
        await follow(
            self._services.redis, on_message, channels=[channel], name="progress", logger=self._log
        )

    async def _on_progress(self, brain: Brain, caller: ToolCaller, raw: bytes) -> None:
        try:
            event = ConversationEvent.model_validate_json(raw)
        except ValidationError:
            return
        step = progress_of(event.source, event.payload)
        if step is None:
            return
        source: Literal["nested_agent", "claude_code"] = (
            "nested_agent" if event.source == EventSource.NESTED_AGENT else "claude_code"
        )
        await self.send(
            Progress(source=source, event_type=event.type, text=step.line, finished=step.finished)
        )
        # A run can report before the call that started it has its result in the model's
        # context (a fast team): the model hears of it after that result.
        await caller.idle()
        await brain.on_progress(step)

    async def _finish(
        self, worker: PipelineWorker, running: asyncio.Task[None], follower: asyncio.Task[None]
    ) -> None:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        if not running.done():
            with contextlib.suppress(Exception):
                await self.send(
                    SessionState(
                        state="stopped",
                        session_id=self.id,
                        conversation_id=self.conversation_id,
                        reason=self.reason,
                    )
                )
                await worker.queue_frame(EndFrame())
            try:
                await asyncio.wait_for(asyncio.shield(running), END_GRACE_S)
            except TimeoutError:
                await worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running
        with contextlib.suppress(Exception):  # already closed by the transport, usually
            await self._ws.close()

    def _event(self, source: str, type_: str, **payload: Any) -> None:
        self._services.outbox.publish(
            ConversationEvent(
                conversation_id=self.conversation_id,
                source=source,
                type=type_,
                payload=payload,
            )
        )
