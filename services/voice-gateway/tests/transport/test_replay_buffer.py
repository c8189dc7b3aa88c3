"""What a resuming client gets again: the frames after its count, and how many were skipped
when it missed more than the buffer keeps."""

from voice_gateway.transport.replay_buffer import ReplayBuffer


def _filled(max_bytes: int, count: int) -> ReplayBuffer:
    buffer = ReplayBuffer(max_bytes)
    for seq in range(1, count + 1):
        buffer.keep(seq, bytes([seq]) * 10)
    return buffer


def test_a_client_gets_the_frames_after_its_count() -> None:
    missed = _filled(100, 5).after(received=3, sent=5)
    assert missed.frames == [bytes([4]) * 10, bytes([5]) * 10]
    assert missed.skipped == 0


def test_the_oldest_frames_go_past_the_size_and_are_counted_as_skipped() -> None:
    buffer = _filled(30, 5)  # keeps frames 3, 4 and 5
    missed = buffer.after(received=0, sent=5)
    assert [f[0] for f in missed.frames if isinstance(f, bytes)] == [3, 4, 5]
    assert missed.skipped == 2


def test_the_last_frame_is_kept_even_when_larger_than_the_buffer() -> None:
    buffer = ReplayBuffer(4)
    buffer.keep(1, b"x" * 10)
    assert buffer.after(received=0, sent=1).frames == [b"x" * 10]


def test_an_up_to_date_or_cleared_client_misses_nothing() -> None:
    buffer = _filled(100, 3)
    assert buffer.after(received=3, sent=3).frames == []
    buffer.clear()
    assert buffer.after(received=1, sent=3).skipped == 2  # nothing kept any more
