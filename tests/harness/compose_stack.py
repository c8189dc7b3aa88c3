"""The project's docker-compose.yml run for real, under a project name of the tests' own.

`ComposeStack` drives the Compose v2 binary from the workspace (`docker-compose`) with the real
compose file and an environment of the test's (free ports, the doubles' addresses), and reads
what Docker says of each container. Failures say which service and show its last log lines.
Producers' event counts are read inside the containers (their /metrics are not published), and
the stored events straight from the event-store's SQLite file, so that events produced and
events stored can be compared across kills.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from harness.deploy_files import BASE, BIN, ROOT
from harness.host_network import changing_interfaces

COMPOSE = str(BIN / "docker-compose")
# What the live runs start: everything but Grafana, which cannot run here (ops/images/README.md).
SERVICES = ("redis", "event-store", "tool-worker", "voice-gateway", "nginx", "prometheus")
PRODUCERS = {"voice-gateway": ("gateway_events", 8090), "tool-worker": ("tool_worker_events", 8092)}
# How long `kill` waits for a producer whose counts keep moving to stand still for one reading.
QUIET_WAIT_S = 15.0
# Distinct events in the event-store's SQLite file (the image's EVENT_STORE_DB_PATH), read-only.
COUNT_STORED = (
    "import sqlite3;"
    "db = sqlite3.connect('file:/data/events.db?mode=ro', uri=True);"
    "print(db.execute('SELECT COUNT(DISTINCT event_id) FROM conversation_events').fetchone()[0])"
)


class ComposeError(RuntimeError):
    """A compose or docker command failed: which, and the output that says why."""


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ComposeError(f"docker {' '.join(args[:3])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class ComposeStack:
    project: str
    env: dict[str, str]
    _produced_by_dead: dict[str, int] = field(default_factory=dict)

    # -- compose -------------------------------------------------------------------------------

    def compose(self, *args: str, timeout: float = 300) -> str:
        argv = [COMPOSE, "-p", self.project, "-f", str(ROOT / BASE), *args]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **self.env},
            cwd=ROOT,
        )
        if done.returncode != 0:
            raise ComposeError(
                f"docker compose {' '.join(args)} failed:\n{done.stderr.strip()[-3000:]}"
            )
        return done.stdout

    def up(self, *services: str, timeout_s: int = 240) -> None:
        """Start (or recreate what changed) and wait for every healthcheck; a service that
        never turns healthy is named, with its last log lines."""
        names = services or SERVICES
        try:
            # The project's network (a bridge with an address) is made first, under the interface
            # lock; starting containers on it adds no address, so the wait for health is outside.
            with changing_interfaces():
                self.compose("up", "--no-start", "--no-build", *names)
            self.compose("up", "-d", "--no-build", "--wait", "--wait-timeout", str(timeout_s),
                         *names, timeout=timeout_s + 60)  # fmt: skip
        except ComposeError as exc:
            # First line: which services, in what state, and compose's own last word on why.
            states = {s: self.health(s) for s in names}
            unhealthy = [s for s, state in states.items() if state != "healthy"]
            named = ", ".join(f"{s} ({states[s]})" for s in unhealthy)
            cause = [line for line in str(exc).splitlines() if line.strip()][-1].strip()
            details = "\n".join(f"--- {s}, its last log lines:\n{self.logs(s)}" for s in unhealthy)
            raise ComposeError(f"not healthy: {named}: {cause}\n{details}\n--- {exc}") from exc

    def down(self, *, volumes: bool) -> None:
        """Remove the containers and network (and the volumes, with `volumes`). Producers'
        counts so far are kept: their successors count from zero."""
        if not volumes:
            for service in PRODUCERS:
                dead = self._produced_by_dead.get(service, 0)
                self._produced_by_dead[service] = dead + self.produced_now(service)
        with changing_interfaces():  # the network's bridge goes, with its address
            self.compose("down", "--remove-orphans", *(["-v"] if volumes else []), timeout=180)

    def ps(self) -> list[dict[str, Any]]:
        """`docker compose ps`, one record per container."""
        out = self.compose("ps", "--all", "--format", "json")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def logs(self, service: str, lines: int = 20) -> str:
        try:
            return self.compose("logs", "--no-color", "--tail", str(lines), service).strip()
        except ComposeError as exc:
            return str(exc)

    # -- containers ------------------------------------------------------------------------------

    def container(self, service: str) -> str:
        out = self.compose("ps", "--all", "-q", service).split()
        if not out:
            raise ComposeError(f"{service} has no container in project {self.project}")
        return out[0]

    def inspect(self, service: str) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(docker("inspect", self.container(service)))[0]
        return record

    def health(self, service: str) -> str:
        try:
            state = self.inspect(service)["State"]
        except ComposeError:
            return "missing"
        return str(state.get("Health", {}).get("Status", state["Status"]))

    def kill(self, service: str) -> None:
        """SIGKILL `service`'s container. A producer's counts are read just before: the kill
        comes right after two readings that agree (up to QUIET_WAIT_S), since what it produces
        between the last reading and its death is stored but counted nowhere (a tool run in
        flight streams a burst of events; reading once killed it in the middle of one)."""
        if service in PRODUCERS:
            deadline = time.monotonic() + QUIET_WAIT_S
            last, now = -1, self.produced_now(service)
            while now != last and time.monotonic() < deadline:
                last, now = now, self.produced_now(service)
            self._produced_by_dead[service] = self._produced_by_dead.get(service, 0) + now
        docker("kill", self.container(service))

    def restart_killed(self, service: str, timeout_s: float = 120) -> float:
        """Start a killed container again and wait for its healthcheck; returns how long."""
        started = time.monotonic()
        docker("start", self.container(service))
        deadline = started + timeout_s
        while (health := self.health(service)) != "healthy":
            if time.monotonic() > deadline:
                raise ComposeError(f"{service} is {health} {timeout_s:g} s after its restart:\n"
                                   f"{self.logs(service)}")  # fmt: skip
            time.sleep(0.5)  # polling Docker's healthcheck state, which it updates every 10 s
        return time.monotonic() - started

    def python(self, service: str, code: str) -> str:
        """Run Python inside a running container of `service` (its own interpreter)."""
        return docker("exec", self.container(service), "python", "-c", code, timeout=60)

    def stats_mib(self) -> dict[str, float]:
        """Memory in use per service now (`docker stats`), in MiB."""
        ids = {self.container(s): s for s in SERVICES}
        out = docker("stats", "--no-stream", "--format", "{{.ID}} {{.MemUsage}}", *ids)
        usage = {}
        for line in out.splitlines():
            short_id, used = line.split()[0], line.split()[1]
            service = next(s for cid, s in ids.items() if cid.startswith(short_id))
            usage[service] = _mib(used)
        return usage

    # -- events -----------------------------------------------------------------------------------

    def produced_now(self, service: str) -> int:
        """What a live producer says it produced: published, buffered and dropped events."""
        prefix, port = PRODUCERS[service]
        text = self.python(
            service,
            "import urllib.request;"
            f"print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics').read().decode())",
        )
        total = 0.0
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            name = sample.split("{", 1)[0]  # dropped_total is labelled by reason
            if name in (f"{prefix}_published_total", f"{prefix}_buffered",
                        f"{prefix}_dropped_total"):  # fmt: skip
                total += float(value)
        return round(total)

    def produced(self) -> int:
        return sum(self._produced_by_dead.get(s, 0) + self.produced_now(s) for s in PRODUCERS)

    def stored(self) -> int:
        """Distinct events in the event-store's database."""
        out = self.python("event-store", COUNT_STORED)
        return int(out.strip())


def _mib(text: str) -> float:
    units = {"KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "B": 1 / 1024 / 1024}
    for unit, factor in units.items():
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * factor, 1)
    raise ValueError(f"unknown memory figure {text!r}")


def bridge_gateway() -> str:
    """The address of this machine on Docker's default bridge: where containers reach
    `host.docker.internal` (compose maps it to `host-gateway`, which is this address)."""
    gateway = docker(
        "network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"
    ).strip()
    if gateway:
        return gateway
    # Docker 20.10 leaves the default bridge's gateway out of its IPAM record: the bridge
    # interface's own address is it.
    interface = docker(
        "network", "inspect", "bridge", "--format",
        '{{index .Options "com.docker.network.bridge.name"}}',
    ).strip()  # fmt: skip
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", interface or "docker0"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return shown[shown.index("inet") + 1].split("/")[0]


def image_missing(*images: str) -> list[str]:
    return [
        image
        for image in images
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
    ]
