"""The early decode: started at a short pause, handed over only when nothing loud came after."""

import asyncio

from voice_gateway.brains.early_decode import RECOGNITION_RATE, EarlyDecode
from voice_gateway.processors.levels import voiced

FRAME = RECOGNITION_RATE * 2 // 50  # 20 ms of 16 kHz PCM16
VOICE = (3000).to_bytes(2, "little", signed=True) * (FRAME // 2)
QUIET = bytes(FRAME)


class Heard:
    """Stands for a model: the audio heard so far, and what each decode was given."""

    def __init__(self) -> None:
        self.audio = bytearray()
        self.decoded: list[int] = []

    async def decode(self, frames: int) -> str:
        self.decoded.append(frames)
        return f"{frames} frames"

    def start(self) -> asyncio.Future[str]:
        return asyncio.ensure_future(self.decode(len(self.audio) // FRAME))


def feed(early: EarlyDecode[str], heard: Heard, frames: list[bytes], speaking: bool = True) -> None:
    for frame in frames:
        heard.audio += frame
        early.hear(frame, speaking, heard.start)


async def test_the_decode_starts_after_a_tenth_of_a_second_of_quiet() -> None:
    early: EarlyDecode[str] = EarlyDecode("test")
    heard = Heard()
    feed(early, heard, [VOICE] * 10 + [QUIET] * 4)
    assert early.started == 0  # 80 ms of quiet
    feed(early, heard, [QUIET])
    assert early.started == 1
    task = early.take()
    assert task is not None
    assert await task == "15 frames"
    early.settle(used=True)
    assert early.used == 1


async def test_speech_after_the_pause_drops_the_decode_and_the_next_pause_starts_another() -> None:
    early: EarlyDecode[str] = EarlyDecode("test")
    heard = Heard()
    feed(early, heard, [VOICE] * 10 + [QUIET] * 6 + [VOICE] * 5 + [QUIET] * 2)
    assert early.take() is None
    feed(early, heard, [QUIET] * 10)
    task = early.take()
    assert task is not None
    assert await task == "28 frames"  # the quiet counted afresh after the take
    assert early.started == 2


async def test_a_decode_is_handed_over_once() -> None:
    early: EarlyDecode[str] = EarlyDecode("test")
    feed(early, Heard(), [VOICE] * 3 + [QUIET] * 6)
    assert early.take() is not None
    assert early.take() is None


async def test_nothing_starts_while_the_vad_hears_no_speech() -> None:
    early: EarlyDecode[str] = EarlyDecode("test")
    feed(early, Heard(), [VOICE] * 3 + [QUIET] * 20, speaking=False)
    assert early.started == 0
    assert early.take() is None


async def test_a_dropped_decode_that_fails_is_collected_and_close_cancels() -> None:
    failed = asyncio.Event()

    async def failing() -> str:
        failed.set()
        raise RuntimeError("model gone")

    early: EarlyDecode[str] = EarlyDecode("test")
    for frame in [VOICE] * 3 + [QUIET] * 6 + [VOICE]:  # started, then dropped
        early.hear(frame, True, failing)
    await failed.wait()
    await asyncio.sleep(0)  # one turn of the loop: its done-callback collects the failure

    never = asyncio.Event()

    async def waiting() -> str:
        await never.wait()
        return ""

    early = EarlyDecode("test")
    for frame in [VOICE] * 3 + [QUIET] * 6:
        early.hear(frame, True, waiting)
    task = early.take()
    assert task is not None
    early.close()
    await asyncio.sleep(0)
    assert task.cancelled()


def test_voiced_is_the_gateways_threshold() -> None:
    assert voiced(VOICE)
    assert not voiced(QUIET)
    assert not voiced(b"\x01")
