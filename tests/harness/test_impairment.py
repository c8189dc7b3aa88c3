"""The impairment relay: bytes pass intact and in order, never earlier than the conditions
allow, and a stall holds everything back (the schedule is checked on its own, with a given
clock; the live relay for integrity and order)."""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.impairment import CLEAN, WEAK_WIFI, ImpairedLink, Impairment, Passages, _Pump


def test_each_chunk_is_due_after_its_delay_and_never_before_the_one_ahead() -> None:
    pump = _Pump(WEAK_WIFI)
    dues = [pump.due(now=10.0 + i * 0.001) for i in range(500)]
    assert dues == sorted(dues)  # TCP's order: a late chunk holds back the ones behind it
    for i, due in enumerate(dues):
        sent = 10.0 + i * 0.001
        assert due >= sent + (WEAK_WIFI.delay_ms - WEAK_WIFI.jitter_ms) / 1000
    spread = {round(d - (10.0 + i * 0.001), 3) for i, d in enumerate(dues)}
    assert len(spread) > 20  # jittered, not a constant delay


def test_the_same_conditions_give_the_same_schedule_every_run() -> None:
    first, second = _Pump(WEAK_WIFI), _Pump(WEAK_WIFI)
    assert [first.due(1.0 + i) for i in range(50)] == [second.due(1.0 + i) for i in range(50)]


def test_a_stall_holds_delivery_until_its_window_ends() -> None:
    stalls = Impairment(stall_every_s=1.0, stall_ms=300)
    pump = _Pump(stalls)
    start = pump._started
    due = pump.due(now=start + 2.1)  # 100 ms into the third window's 300 ms stall
    assert due == pytest.approx(start + 2.3)
    assert pump.due(now=start + 2.5) == pytest.approx(start + 2.5)  # outside a stall: at once


def test_a_turns_link_share_is_the_last_words_hold_up_plus_the_first_audios_hold_down() -> None:
    passages = Passages(
        up=[(1000.0, 1050.0), (1020.0, 1080.0), (1040.0, 1090.0)],  # (came in, went out)
        down=[(1500.0, 1530.0), (1600.0, 1665.0), (1640.0, 1700.0)],
    )
    # The last voiced frame was sent at 1019 (read by the relay at 1020, out at 1080); the
    # answer's first audio arrived at 1666, after the chunk that came in at 1600 went out.
    assert passages.link_ms(sent_ms=1019.0, arrived_ms=1666.0) == (1080 - 1019) + (1666 - 1600)
    # The relay may read a frame a moment before its sender notes the time.
    assert passages.link_ms(sent_ms=1022.0, arrived_ms=1666.0) == (1080 - 1022) + (1666 - 1600)
    assert passages.link_ms(sent_ms=2000.0, arrived_ms=1666.0) is None  # not on record
    assert passages.link_ms(sent_ms=1019.0, arrived_ms=1400.0) is None


async def test_bytes_pass_intact_and_in_order_both_ways() -> None:
    echoed = asyncio.Event()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        echoed.set()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sent = b"".join(i.to_bytes(4, "big") for i in range(20_000))
    async with server, ImpairedLink(port, down=WEAK_WIFI, up=CLEAN) as link:
        reader, writer = await asyncio.open_connection("127.0.0.1", link.port)
        own_port = writer.get_extra_info("sockname")[1]
        started = time.monotonic()
        for i in range(0, len(sent), 1000):
            writer.write(sent[i : i + 1000])
            await writer.drain()
        received = await asyncio.wait_for(reader.readexactly(len(sent)), 30)
        elapsed = time.monotonic() - started
        writer.close()  # the relay passes the end on: the echo server's side closes too
        await writer.wait_closed()
        await asyncio.wait_for(echoed.wait(), 30)
    assert received == sent
    assert elapsed >= (WEAK_WIFI.delay_ms - WEAK_WIFI.jitter_ms) / 1000
    # Every chunk's passage is on record under the client's own port, held on the way down
    # (less a millisecond: the event loop may wake a timer a hair early).
    [passages] = link.passages.values()
    assert list(link.passages) == [own_port]
    assert passages.up
    assert passages.down
    assert all(went >= came for came, went in passages.up + passages.down)
    least = WEAK_WIFI.delay_ms - WEAK_WIFI.jitter_ms
    assert all(went - came >= least - 1 for came, went in passages.down)
