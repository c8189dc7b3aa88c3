"""Barge-in: the user speaks over the assistant, and its audio stops at once, in both formats.

Real gateway process and Redis; the fake Realtime server detects the second utterance in the
audio it receives and, as the real one does, cancels the response it was speaking.
"""

import asyncio
from typing import Literal

import pytest
from websockets.asyncio.client import ClientConnection, connect

from fakes.openai_realtime import SAMPLE_RATE, FakeRealtimeServer
from harness.services import StartGateway, ws_url
from harness.speech import silence, speech_pcm, stream_at_real_time
from harness.voice_clients import VoiceClient
from harness.waiting import async_wait_until

LONG_ANSWER_S = 5.0  # the scenario's first answer: five seconds of speech
OUTPUT_CHUNK_BYTES = SAMPLE_RATE * 2 * 40 // 1000  # Pipecat's output transport sends 40 ms


class Playback:
    """What a browser would have played of the long answer (from its first audio, which the
    first `latency` message marks, to the interruption) and after it."""

    def __init__(self) -> None:
        self.phase: Literal["before", "long", "after"] = "before"
        self.long_answer = 0
        self.after = 0
        self.texts: list[str] = []

    async def receive(self, ws: ClientConnection, client: VoiceClient) -> None:
        async for frame in ws:
            decoded = client.decode(frame)
            if decoded.interruption and self.phase == "long":
                self.phase = "after"
            elif decoded.audio is not None and self.phase == "long":
                self.long_answer += len(decoded.audio)
            elif decoded.audio is not None and self.phase == "after":
                self.after += len(decoded.audio)
            elif (message := decoded.message) is not None:
                if message["type"] == "latency" and self.phase == "before":
                    self.phase = "long"
                elif message["type"] == "transcription":
                    self.texts.append(message["text"])


@pytest.mark.parametrize("wire_format", ["raw", "rtvi"])
async def test_speaking_over_the_assistant_stops_its_audio(
    start_gateway: StartGateway, realtime: FakeRealtimeServer, wire_format: Literal["raw", "rtvi"]
) -> None:
    gateway = start_gateway("barge_in")
    client, playback = VoiceClient(wire_format), Playback()
    url = ws_url(gateway, f"/api/realtime/pipecat/ws/conv-barge?{client.query}")
    async with connect(url) as ws:
        receiver = asyncio.create_task(playback.receive(ws, client))
        for hello in client.hello():
            await ws.send(hello)

        async def send(pcm: bytes) -> None:
            await ws.send(client.audio(pcm))

        await stream_at_real_time(
            send, silence(300) + speech_pcm("Tell me a long story.") + silence(700)
        )

        async def answering() -> bool:
            return playback.long_answer > 0

        await async_wait_until(answering, what="the long answer to start")
        await stream_at_real_time(send, speech_pcm("Stop, please.") + silence(700))

        async def answered_again() -> bool:
            return any(text.startswith("All right, I will stop.") for text in playback.texts)

        await async_wait_until(answered_again, timeout_s=20, what="the answer to the barge-in")
        await ws.send(client.stop())
        await asyncio.wait_for(receiver, 10)

    assert playback.phase == "after"  # the long answer was interrupted
    # Only what had been played before the user spoke: far less than the whole long answer.
    assert playback.long_answer < LONG_ANSWER_S * SAMPLE_RATE * 2 * 0.6
    # After the interruption: the second answer, all of it, and of the first at most one output
    # chunk (Pipecat's default 40 ms). A chunk already on its way between two of the pipeline's
    # processors can reach the transport just after the interruption has (seen once, in a
    # loaded run of the whole suite): the browser then plays those 40 ms after it stopped.
    responses = realtime.connection().responses()
    cancelled = [r for r in responses if r.status == "cancelled"]
    assert [r.text for r in cancelled][-1].startswith("Once upon a time")
    assert responses[-1].text.startswith("All right, I will stop.")
    second = responses[-1].audio_bytes
    assert second > 0
    assert second <= playback.after <= second + OUTPUT_CHUNK_BYTES
    assert realtime.connection().truncates()  # the model was told how much the user heard
