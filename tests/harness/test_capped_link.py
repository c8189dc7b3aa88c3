"""The capped link really caps: traffic from the namespace to this one queues in the TBF."""

import re
import socket
import subprocess
import sys

from harness.capped_link import CappedLink

SENDER = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2]))) as s:
    s.sendall(bytes(300_000))
"""


def _sent_and_overlimits(stats: str) -> tuple[int, int]:
    sent = re.search(r"Sent (\d+) bytes", stats)
    over = re.search(r"overlimits (\d+)", stats)
    assert sent, stats
    assert over, stats
    return int(sent.group(1)), int(over.group(1))


def test_a_client_in_the_namespace_reaches_the_host_through_the_cap() -> None:
    with CappedLink(rate_kbit=1000) as link:
        assert "rate 1Mbit" in link.qdisc_stats(inside=True)
        with socket.create_server((link.host_ip, 0)) as server:
            server.settimeout(30)  # a sender that never connects fails the test, not hangs it
            port = server.getsockname()[1]
            sender = subprocess.Popen(
                link.command([sys.executable, "-c", SENDER, link.host_ip, str(port)])
            )
            connection, (peer, _) = server.accept()
            received = 0
            with connection:
                while chunk := connection.recv(65536):
                    received += len(chunk)
            assert sender.wait(timeout=30) == 0
        assert peer == link.client_ip  # it came over the veth pair, not the namespace's loopback
        assert received == 300_000
        # 300 kB at 1 Mbit/s against a 16 KiB bucket: the filter held packets back.
        sent, overlimits = _sent_and_overlimits(link.qdisc_stats(inside=True))
        assert sent >= 300_000
        assert overlimits > 0
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert link.namespace not in namespaces
