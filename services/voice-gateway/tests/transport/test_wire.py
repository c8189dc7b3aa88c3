"""The browser's wire format, and the processor that answers protocol frames (Pipecat's own
frame-level test harness, no network)."""

import json

import pytest
from pipecat.frames.frames import (
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.tests.utils import run_test

from contracts.browser import ClientStats, Transcription
from voice_gateway.transport.wire import (
    ClientPing,
    ClientProtocol,
    ClientProtocolError,
    ClientStatsFrame,
    ClientStop,
    RawPCMSerializer,
    to_client,
)


@pytest.fixture
def serializer() -> RawPCMSerializer:
    return RawPCMSerializer(max_frames_per_second=1000)


async def test_audio_in_both_directions(serializer: RawPCMSerializer) -> None:
    pcm = bytes(range(256)) * 3  # 768 bytes: 16 ms at 24 kHz
    frame = await serializer.deserialize(pcm)
    assert isinstance(frame, InputAudioRawFrame)
    assert (frame.audio, frame.sample_rate, frame.num_channels) == (pcm, 24000, 1)
    out = OutputAudioRawFrame(audio=pcm, sample_rate=24000, num_channels=1)
    assert await serializer.serialize(out) == pcm


async def test_server_messages_are_json_text(serializer: RawPCMSerializer) -> None:
    message = to_client(Transcription(text="hello", role="user", timestamp="t"))
    text = await serializer.serialize(message)
    assert isinstance(text, str)
    assert json.loads(text) == {
        "type": "transcription", "text": "hello", "role": "user", "user_id": "user",
        "final": True, "timestamp": "t", "device": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x01\x02\x03", "odd_length_audio"),
        ("{not json", "invalid_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "ping", "extra": 1}', "invalid_message"),
        ("[1, 2]", "invalid_message"),
        ('"just a string"', "invalid_message"),
    ],
)
async def test_bad_frames_become_protocol_errors(data: str | bytes, code: str) -> None:
    frame = await RawPCMSerializer(max_frames_per_second=1000).deserialize(data)
    assert isinstance(frame, ClientProtocolError)
    assert frame.code == code


async def test_client_messages(serializer: RawPCMSerializer) -> None:
    ping = await serializer.deserialize('{"type": "ping", "id": "p1"}')
    assert isinstance(ping, ClientPing)
    assert ping.ping_id == "p1"
    assert isinstance(await serializer.deserialize('{"type": "stop"}'), ClientStop)
    assert await serializer.deserialize(b"") is None


async def test_a_flood_is_cut_with_one_error() -> None:
    serializer = RawPCMSerializer(max_frames_per_second=5)
    frames = [await serializer.deserialize(b"\x00\x00") for _ in range(20)]
    audio = [f for f in frames if isinstance(f, InputAudioRawFrame)]
    errors = [f for f in frames if isinstance(f, ClientProtocolError)]
    assert len(audio) == 5
    assert [e.code for e in errors] == ["rate_limited"]


async def test_client_protocol_answers_errors_and_pings_and_reports_stop() -> None:
    stopped: list[bool] = []

    async def on_stop() -> None:
        stopped.append(True)

    down, _ = await run_test(
        ClientProtocol(on_stop=on_stop),
        frames_to_send=[
            ClientProtocolError(code="invalid_json", message="text frames must be JSON objects"),
            ClientPing(ping_id="p1"),
            ClientStop(),
            InputAudioRawFrame(audio=b"\x00\x00", sample_rate=24000, num_channels=1),
        ],
        expected_down_frames=[
            OutputTransportMessageUrgentFrame,
            OutputTransportMessageUrgentFrame,
            InputAudioRawFrame,
        ],
    )
    assert down[0].message["type"] == "error"
    assert down[0].message["code"] == "invalid_json"
    assert down[1].message["type"] == "pong"
    assert stopped == [True]


async def test_an_interruption_tells_the_browser_to_drop_its_playback(
    serializer: RawPCMSerializer,
) -> None:
    wire = await serializer.serialize(InterruptionFrame())
    assert isinstance(wire, str)
    assert json.loads(wire)["type"] == "interruption"


STATS = {"played_ms": 2400, "underruns": 1, "underrun_ms": 40, "buffer_ms": 90}


async def test_client_stats_are_taken_and_handed_to_the_session(
    serializer: RawPCMSerializer,
) -> None:
    frame = await serializer.deserialize(
        json.dumps({"type": "client_stats", "mouth_to_ear_ms": 870, **STATS})
    )
    assert isinstance(frame, ClientStatsFrame)
    assert (frame.stats.mouth_to_ear_ms, frame.stats.underruns) == (870, 1)
    heard: list[ClientStats] = []

    async def on_stats(stats: ClientStats) -> None:
        heard.append(stats)

    async def on_stop() -> None:
        return None

    down, _ = await run_test(
        ClientProtocol(on_stop=on_stop, on_stats=on_stats), frames_to_send=[frame]
    )
    assert heard == [frame.stats]
    assert down == []  # nothing goes further into the pipeline


@pytest.mark.parametrize(
    ("stats", "says"),
    [
        ({**STATS, "underruns": 0}, "underruns and underrun_ms must be zero together"),
        ({**STATS, "buffer_ms": -5}, "buffer_ms: Input should be greater than or equal to 0"),
        ({**STATS, "mouth_to_ear_ms": 1e9}, "mouth_to_ear_ms: Input should be less than"),
        ({**STATS, "underrun_ms": 500_000}, "more silence inserted than a turn could hold"),
        ({**STATS, "played_ms": "lots"}, "played_ms: Input should be a valid number"),
        ({**STATS, "listener": "me"}, "listener: Extra inputs are not permitted"),
        ({**STATS, "underruns": True}, "underruns: Input should be a valid integer"),
        ({**STATS, "buffer_ms": "90"}, "buffer_ms: Input should be a valid number"),
    ],
)
async def test_client_stats_that_cannot_be_true_are_refused_with_the_reason(
    stats: dict[str, object], says: str
) -> None:
    serializer = RawPCMSerializer(max_frames_per_second=1000)
    frame = await serializer.deserialize(json.dumps({"type": "client_stats", **stats}))
    assert isinstance(frame, ClientProtocolError)
    assert frame.code == "invalid_message"
    assert says in frame.message
