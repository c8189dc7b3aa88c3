"""Ports for the processes tests start: under pytest-xdist each worker has its own range, below
the kernel's ephemeral ports, so two workers never pick the same one (a service of one worker
once took the port another worker had just been told was free)."""

import os

import pytest

import stack


def _ports(monkeypatch: pytest.MonkeyPatch, worker: str, n: int) -> list[int]:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setattr(stack, "_next_port", None)
    return [stack.free_port() for _ in range(n)]


def test_workers_draw_from_disjoint_ranges_below_the_ephemeral_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not probed: binding ports of the other worker's range, even briefly, could race it.
    monkeypatch.setattr(stack, "_port_is_free", lambda port: True)
    first, second = _ports(monkeypatch, "gw0", 20), _ports(monkeypatch, "gw1", 20)
    assert len(set(first)) == len(first)  # never the same port twice in a row
    assert set(first).isdisjoint(second)
    assert all(10_000 <= p < 15_000 for p in first)
    assert all(15_000 <= p < 20_000 for p in second)
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ranges:
        ephemeral_low = int(ranges.read().split()[0])
    assert max(first + second) < ephemeral_low


def test_a_taken_port_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # This worker's own range (gw0 when pytest runs without workers).
    [taken] = _ports(monkeypatch, os.environ.get("PYTEST_XDIST_WORKER", "gw0"), 1)
    with stack.socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        monkeypatch.setattr(stack, "_next_port", taken)
        assert stack.free_port() == taken + 1
