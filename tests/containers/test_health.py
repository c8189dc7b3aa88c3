"""Each container as Docker runs it: healthy by its own healthcheck, its processes not root, and
the memory limits the compose file sets really applied (swap included)."""

from __future__ import annotations

import json

import yaml  # type: ignore[import-untyped]  # no stubs in the lock (pyyaml via pipecat)

from harness.compose_stack import SERVICES, docker
from harness.deploy_files import BASE, ROOT

from .conftest import Deployment

ARTIFACTS = ROOT / ".artifacts" / "containers"


def _limit_bytes(text: str) -> int:
    """A compose memory value with its default applied ("${X:-256m}" -> 268435456)."""
    value = text.split(":-", 1)[1].rstrip("}") if text.startswith("${") else text
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    return int(value[:-1]) * units[value[-1].lower()]


def test_every_service_is_healthy_by_its_own_healthcheck(deployed: Deployment) -> None:
    listed = {c["Service"]: c for c in deployed.stack.ps()}
    assert set(listed) == set(SERVICES)  # grafana left out: it cannot run here
    for service, container in listed.items():
        assert container["State"] == "running", service
        assert container["Health"] == "healthy", (service, container["Status"])
        assert "(healthy)" in container["Status"], service  # as `docker compose ps` shows it
        assert deployed.stack.inspect(service)["Config"]["Healthcheck"]["Test"], service


def test_memory_limits_swap_included_are_applied(deployed: Deployment) -> None:
    compose = yaml.safe_load((ROOT / BASE).read_text())["services"]
    for service in SERVICES:
        host = deployed.stack.inspect(service)["HostConfig"]
        expected = _limit_bytes(compose[service]["mem_limit"])
        assert host["Memory"] == expected, service
        assert host["MemorySwap"] == expected, service  # no swap beyond the limit


def test_no_service_runs_its_work_as_root(deployed: Deployment) -> None:
    """What runs in each container, by user. nginx's master process alone is root, as in the
    official image: it reads the TLS key mounted from the host and binds the port, and hands
    every request to workers running as `nginx`."""
    for service in SERVICES:
        # Docker's `top` needs the pid column to map processes to the container.
        listing = docker("top", deployed.stack.container(service), "-eo", "pid,user,args")
        rows = [line.split(None, 2)[1:] for line in listing.splitlines()[1:]]
        users = {user for user, _ in rows}
        if service == "nginx":
            masters = [args for user, args in rows if user == "root"]
            assert all(args.startswith("nginx: master") for args in masters), rows
            assert any(user != "root" for user in users), rows
        else:
            assert "root" not in users, (service, rows)


def test_idle_memory_is_recorded(deployed: Deployment) -> None:
    """`docker stats` per service at idle (the Realtime brain; bench/stack_memory.py measures
    the local brain's): written for the report, not asserted (targets belong to benchmarks)."""
    usage = deployed.stack.stats_mib()
    assert set(usage) == set(SERVICES)
    assert all(mib > 0 for mib in usage.values())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record = {"brain": "openai", "mib": usage, "total_mib": round(sum(usage.values()), 1)}
    (ARTIFACTS / "idle-memory.json").write_text(json.dumps(record, indent=2))


def test_containers_are_read_only_and_gain_no_privilege(deployed: Deployment) -> None:
    """Root filesystems read-only (each writes only to its volume or to memory), no new
    privileges, every capability dropped but what redis and nginx need to switch users."""
    switch_users = {"CHOWN", "SETGID", "SETUID"}
    for service in SERVICES:
        host = deployed.stack.inspect(service)["HostConfig"]
        assert host["ReadonlyRootfs"] is True, service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["CapDrop"] == ["ALL"], service
        # The engine may report a capability with or without its CAP_ prefix.
        added = {cap.removeprefix("CAP_") for cap in host["CapAdd"] or []}
        assert added == (switch_users if service in ("redis", "nginx") else set()), service
