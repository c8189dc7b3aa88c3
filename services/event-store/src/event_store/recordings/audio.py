"""A recording's audio on disk: raw stereo PCM16 while the session records (chunks are written
at their offset, so a chunk the gateway had to drop leaves silence, not a shift), then FLAC.

Blocking file work, run in a thread by the store."""

import errno
import os
from pathlib import Path

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]  # no stubs published

SAMPLE_RATE = 24_000
CHANNELS = 2
FRAME_BYTES = CHANNELS * 2  # PCM16 stereo
FORMAT = "flac"
MEDIA_TYPE = "audio/flac"
_ENCODE_BLOCK_FRAMES = SAMPLE_RATE * 10  # 10 s at a time: memory stays small for long sessions


class ChunkOverlaps(Exception):
    """The chunk starts before the end of what is already written."""

    def __init__(self, frames: int) -> None:
        super().__init__(f"the recording already holds {frames} frames")
        self.frames = frames


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def create_raw(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=False)


def write_at(path: Path, offset_frames: int, data: bytes) -> int:
    """Write `data` at `offset_frames` (any gap before it reads as silence); the frames the
    recording then holds. The file must exist: a recording deleted meanwhile is not recreated."""
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        position = offset_frames * FRAME_BYTES
        if position < size:
            raise ChunkOverlaps(size // FRAME_BYTES)
        left = memoryview(data)
        try:
            while left:
                written = os.pwrite(fd, left, position)
                left, position = left[written:], position + written
        except OSError:
            os.ftruncate(fd, size)  # a full disk takes part of a write: none of it is kept
            raise
        return position // FRAME_BYTES
    finally:
        os.close(fd)


def raw_frames(path: Path) -> int:
    try:
        return path.stat().st_size // FRAME_BYTES
    except FileNotFoundError:
        return 0


def encode_flac(raw: Path, target: Path) -> int:
    """The raw audio as FLAC at `target` (written beside it, then renamed: never half a file);
    the frames encoded. An empty recording becomes one silent frame (FLAC readers refuse a
    file without any)."""
    part = target.with_name(target.name + ".part")
    frames = 0
    try:
        with sf.SoundFile(
            part, "w", samplerate=SAMPLE_RATE, channels=CHANNELS, format="FLAC", subtype="PCM_16"
        ) as flac:
            if raw.stat().st_size >= FRAME_BYTES:
                with sf.SoundFile(
                    raw,
                    format="RAW",
                    samplerate=SAMPLE_RATE,
                    channels=CHANNELS,
                    subtype="PCM_16",
                    endian="LITTLE",
                ) as pcm:
                    for block in pcm.blocks(blocksize=_ENCODE_BLOCK_FRAMES, dtype="int16"):
                        flac.write(block)
                        frames += len(block)
            if frames == 0:
                flac.write(np.zeros((1, CHANNELS), dtype=np.int16))
                frames = 1
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return frames


def flac_frames(path: Path) -> int:
    return int(sf.info(str(path)).frames)
