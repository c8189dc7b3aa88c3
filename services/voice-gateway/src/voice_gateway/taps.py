"""Frame processors that watch the pipeline and report what happened, without changing it."""

from collections.abc import Awaitable, Callable

from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    LLMFullResponseEndFrame,
    TranscriptionFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

OnText = Callable[[str, str], Awaitable[None]]  # (role, text)
OnError = Callable[[str], Awaitable[None]]


class UserSide(FrameProcessor):
    """Before the model: user transcripts and errors travel upstream past here."""

    def __init__(self, *, on_text: OnText, on_error: OnError) -> None:
        super().__init__(name="user-side")
        self._on_text = on_text
        self._on_error = on_error

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            await self._on_text("user", frame.text.strip())
        elif isinstance(frame, ErrorFrame):
            await self._on_error(frame.error)
        await self.push_frame(frame, direction)


class AssistantSide(FrameProcessor):
    """After the model: the assistant's words, one transcript per response."""

    def __init__(self, *, on_text: OnText) -> None:
        super().__init__(name="assistant-side")
        self._on_text = on_text
        self._parts: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSTextFrame):
            self._parts.append(frame.text)
        elif isinstance(frame, LLMFullResponseEndFrame) and self._parts:
            text, self._parts = "".join(self._parts).strip(), []
            if text:
                await self._on_text("assistant", text)
        await self.push_frame(frame, direction)
