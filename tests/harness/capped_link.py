"""A bandwidth cap between clients and the stack, inside this machine: a network namespace
joined to this one by a veth pair, with a token-bucket filter (TBF) on each end.

The impairment relay (impairment.py) delays and jitters; it cannot cap bandwidth. The kernel's
TBF can, and HTB/TBF and network namespaces work here (netem does not). Clients run inside the
namespace (`command()` wraps theirs) and reach the stack at `host_ip`, where the relay or nginx
listens; everything they send and receive crosses the veth pair, capped each way at `rate_kbit`.
Needs root and iproute2 (`ip`, `tc`); `scripts/setup.sh` installs iproute2.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from types import TracebackType

from harness.host_network import changing_interfaces


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@dataclass
class CappedLink:
    """`with CappedLink(6000) as link:` then run clients with `link.command([...])`."""

    rate_kbit: int
    # The bucket: a few 1,500-byte packets, so a burst cannot sneak past the cap.
    burst_bytes: int = 16 * 1024
    # Packets queued longer than this are dropped, as on a congested Wi-Fi link.
    latency_ms: int = 200

    def __post_init__(self) -> None:
        # Named and numbered after this process, so parallel test workers never share a link:
        # a /30 of 10.64.0.0/10 per process id.
        pid = os.getpid()
        self.namespace = f"av-cap-{pid}"
        self._host_if, self._ns_if = f"avc{pid}h", f"avc{pid}n"  # at most 15 characters
        prefix = f"10.{64 + (pid >> 14) % 64}.{(pid >> 6) & 255}"
        self.host_ip = f"{prefix}.{(pid & 63) * 4 + 1}"
        self.client_ip = f"{prefix}.{(pid & 63) * 4 + 2}"

    def command(self, command: list[str]) -> list[str]:
        """`command` run inside the namespace (its traffic to `host_ip` is capped)."""
        return ["ip", "netns", "exec", self.namespace, *command]

    def qdisc_stats(self, inside: bool = False) -> str:
        """`tc -s qdisc` of one end: the host's (downstream) or the namespace's (upstream)."""
        if inside:
            return _run(*self.command(["tc", "-s", "qdisc", "show", "dev", self._ns_if]))
        return _run("tc", "-s", "qdisc", "show", "dev", self._host_if)

    def __enter__(self) -> CappedLink:
        # Interfaces with addresses come and go: never while a Chromium is open (host_network.py).
        with changing_interfaces():
            self._add()
        return self

    def _add(self) -> None:
        ns, host_if, ns_if = self.namespace, self._host_if, self._ns_if
        _run("ip", "netns", "add", ns)
        try:
            _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", host_if)
            _run("ip", "link", "set", host_if, "up")
            inside = ["ip", "netns", "exec", ns]
            _run(*inside, "ip", "addr", "add", f"{self.client_ip}/30", "dev", ns_if)
            _run(*inside, "ip", "link", "set", ns_if, "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            tbf = ["root", "tbf", "rate", f"{self.rate_kbit}kbit"]
            tbf += ["burst", str(self.burst_bytes), "latency", f"{self.latency_ms}ms"]
            _run("tc", "qdisc", "add", "dev", host_if, *tbf)  # to the clients
            _run(*inside, "tc", "qdisc", "add", "dev", ns_if, *tbf)  # from them
        except BaseException:
            self._remove()
            raise

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        with changing_interfaces():
            self._remove()

    def _remove(self) -> None:
        # The host's end first, by name: deleting the namespace alone removes the pair later, in
        # the kernel's own time, after the interface lock is let go.
        subprocess.run(["ip", "link", "del", self._host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
