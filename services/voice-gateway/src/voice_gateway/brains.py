"""The model behind a session. Today: OpenAI Realtime (speech to speech)."""

from dataclasses import dataclass

from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from websockets.exceptions import ConnectionClosed

from voice_gateway.settings import Settings
from voice_gateway.tools import TOOL_SCHEMAS


@dataclass(frozen=True)
class Persona:
    voice: str
    agent_name: str
    system_prompt: str


class RealtimeLLM(OpenAIRealtimeLLMService):
    """Pipecat 1.14's Realtime service notices a closed upstream only at its next send, and
    says nothing while the user is silent: here the closing itself is the error."""

    async def _receive_task_handler(self) -> None:
        detail = "closed the connection"
        try:
            await super()._receive_task_handler()  # type: ignore[no-untyped-call]
        except ConnectionClosed as exc:
            detail = f"closed the connection ({exc})"
        if not self._disconnecting:  # not our own disconnect or a conversation reset
            await self.push_error(error_msg=f"The Realtime API {detail}")


def realtime_brain(settings: Settings, persona: Persona) -> RealtimeLLM:
    """Pipecat's Realtime service with everything the session needs set where the GA API reads
    it (Pipecat silently ignores misplaced settings: tests assert these reach the wire)."""
    assert settings.openai_api_key is not None
    session = events.SessionProperties(
        audio=events.AudioConfiguration(
            input=events.AudioInput(
                # Without this the API sends no transcripts of what the user says.
                transcription=events.InputAudioTranscription(model="whisper-1"),
                turn_detection=events.TurnDetection(silence_duration_ms=500),
            ),
            output=events.AudioOutput(voice=persona.voice),
        ),
        tools=TOOL_SCHEMAS,
    )
    llm_settings = OpenAIRealtimeLLMService.Settings(
        system_instruction=persona.system_prompt, session_properties=session
    )
    if settings.openai_model:  # unset: Pipecat's default, which tracks the GA API it speaks
        llm_settings.model = settings.openai_model
    return RealtimeLLM(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_realtime_url,
        settings=llm_settings,
    )
