"""Run the stack as plain processes: the same commands the containers run.

`make run` calls `main()`; the integration tests and benchmarks import `ManagedProcess` and the
`*_spec` functions, so the stack under test is started exactly as it runs in production.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import nginx_site

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the workspace venv: where each service's command lives

ReadyCheck = Callable[[], bool]


# Under pytest-xdist, workers pick ports for the processes they start at the same time. A port
# the kernel calls free in one worker can be taken by the other's service before this worker's
# service binds it, so each worker draws from a range of its own, below the kernel's ephemeral
# ports (32768 and up on Linux, which bind-to-0 and outgoing connections use).
_WORKER_PORTS_BASE = 10_000
_WORKER_PORTS_SPAN = 5_000
_next_port: int | None = None


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a process about to bind it)."""
    global _next_port
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            return port
    low = _WORKER_PORTS_BASE + int(worker.removeprefix("gw")) * _WORKER_PORTS_SPAN
    for _ in range(_WORKER_PORTS_SPAN):
        # In turn through the range: a port just handed out is not reused while its process
        # may still be starting or stopping.
        candidate = _next_port if _next_port is not None else low
        _next_port = low + (candidate + 1 - low) % _WORKER_PORTS_SPAN
        if _port_is_free(candidate):
            return candidate
    raise RuntimeError(f"no free port in {low}-{low + _WORKER_PORTS_SPAN - 1} for {worker}")


def http_ready(url: str) -> ReadyCheck:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - local URL
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check


def redis_ready(port: int) -> ReadyCheck:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    return check


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    ready: ReadyCheck
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""


class ManagedProcess:
    """One child process: started in its own process group, waited on until ready, stopped."""

    def __init__(self, spec: ProcessSpec, log_dir: Path | None = None) -> None:
        self.spec = spec
        self.log_path = (log_dir or ROOT / "data" / "logs") / f"{spec.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.spec.name} is not running"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, *, timeout: float = 60.0, wait: bool = True, echo: bool = False) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.spec.env}
        self.proc = subprocess.Popen(
            self.spec.argv,
            env=env,
            stdout=None if echo else self._log,
            stderr=None if echo else subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to the supervisor, which stops children in order
        )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.spec.ready():
            if not self.running():
                raise RuntimeError(f"{self.spec.name} exited during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.spec.name} not ready in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.02)  # polling interval of the readiness probe, not a readiness guess

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def restart(self, *, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


# --- the stack's processes ------------------------------------------------------------------


def redis_spec(
    port: int, data_dir: Path, *, appendonly: bool = True, maxmemory: str | None = None
) -> ProcessSpec:
    """A private Redis; append-only persistence as in compose, so a restart keeps the stream.
    As in compose, a memory limit (`maxmemory`, else REDIS_MAXMEMORY, else 192mb) that fails
    writes loudly past it and never evicts (docs/reliability.md: the events backlog)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--protected-mode", "yes",
        "--maxmemory", maxmemory or os.environ.get("REDIS_MAXMEMORY") or "192mb",
        "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
    return ProcessSpec("redis", argv, redis_ready(port), url=f"redis://127.0.0.1:{port}/0")


def service_spec(name: str, port: int, env: Mapping[str, str]) -> ProcessSpec:
    """A Python service: its console script from the workspace venv, ready when /readyz is 200."""
    return ProcessSpec(
        name,
        [str(BIN / name)],
        http_ready(f"http://127.0.0.1:{port}/readyz"),
        env=env,
        url=f"http://127.0.0.1:{port}",
    )


def event_store_spec(
    port: int, redis_url: str, db_path: Path, extra_env: Mapping[str, str] | None = None
) -> ProcessSpec:
    env = {
        "REDIS_URL": redis_url,
        "EVENT_STORE_PORT": str(port),
        "EVENT_STORE_DB_PATH": str(db_path),
        **(extra_env or {}),
    }
    return service_spec("event-store", port, env)


def tool_worker_spec(
    port: int, redis_url: str, extra_env: Mapping[str, str] | None = None
) -> ProcessSpec:
    env = {
        "REDIS_URL": redis_url,
        "TOOL_WORKER_PORT": str(port),
        "AGENTIC_WS_URL": os.environ.get("AGENTIC_WS_URL", "ws://localhost:8000"),
        **(extra_env or {}),
    }
    return service_spec("tool-worker", port, env)


def voice_gateway_spec(
    port: int, redis_url: str, extra_env: Mapping[str, str] | None = None
) -> ProcessSpec:
    env = {"REDIS_URL": redis_url, "GATEWAY_PORT": str(port), **(extra_env or {})}
    return service_spec("voice-gateway", port, env)


def nginx_spec(main_config: Path, port: int) -> ProcessSpec:
    """nginx in the foreground with a configuration from `nginx_site.write_config`."""
    return ProcessSpec(
        "nginx",
        [nginx_site.nginx_binary(), "-c", str(main_config), "-e", "stderr"],
        nginx_site.https_ready(f"https://127.0.0.1:{port}/"),
        url=f"https://localhost:{port}",
    )


def front_spec(
    data_dir: Path, port: int, *, gateway_port: int, event_store_port: int, web_root: Path
) -> ProcessSpec:
    """The TLS front with the built client: certificate (made once), rendered and checked config."""
    cert, key = nginx_site.ensure_certificate(data_dir / "tls")
    site = nginx_site.NginxSite(
        port=port,
        gateway=f"127.0.0.1:{gateway_port}",
        event_store=f"127.0.0.1:{event_store_port}",
        cert=cert,
        key=key,
        web_root=web_root,
        access_log=(data_dir / "logs" / "nginx-access.log").resolve(),
    )
    main_config = nginx_site.write_config(site, data_dir / "nginx", data_dir / "logs")
    checked = nginx_site.check_config(main_config)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {main_config}:\n{checked.stderr}")
    return nginx_spec(main_config, port)


# --- make run -------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the agentic-voice stack in the foreground.")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", 6390)))
    parser.add_argument(
        "--event-store-port", type=int, default=int(os.environ.get("EVENT_STORE_PORT", 8091))
    )
    parser.add_argument(
        "--tool-worker-port", type=int, default=int(os.environ.get("TOOL_WORKER_PORT", 8092))
    )
    parser.add_argument(
        "--gateway-port", type=int, default=int(os.environ.get("GATEWAY_PORT", 8090))
    )
    parser.add_argument("--https-port", type=int, default=int(os.environ.get("HTTPS_PORT", 8443)))
    parser.add_argument("--web-root", type=Path, default=ROOT / "web" / "dist")
    return parser.parse_args(argv)


def _stack_specs(args: argparse.Namespace) -> list[ProcessSpec]:
    data: Path = args.data_dir
    redis = redis_spec(args.redis_port, data / "redis")
    return [
        redis,
        event_store_spec(args.event_store_port, redis.url, data / "event-store" / "events.db"),
        tool_worker_spec(args.tool_worker_port, redis.url),
        voice_gateway_spec(args.gateway_port, redis.url),
        front_spec(
            data,
            args.https_port,
            gateway_port=args.gateway_port,
            event_store_port=args.event_store_port,
            web_root=args.web_root.resolve(),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    data: Path = args.data_dir
    if not (args.web_root / "index.html").exists():
        print(f"[stack] no built client in {args.web_root}: run `make web`", file=sys.stderr)
        return 1
    try:
        specs = _stack_specs(args)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"[stack] cannot start: {exc}", file=sys.stderr, flush=True)
        return 1
    started: list[ManagedProcess] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        for spec in specs:
            process = ManagedProcess(spec, data / "logs")
            process.start(echo=True)
            started.append(process)
            print(f"[stack] {spec.name} ready {spec.url}", flush=True)
        print(
            f"[stack] running: open https://localhost:{args.https_port} (self-signed certificate"
            f" in {data / 'tls'}); event-store API docs: "
            f"http://127.0.0.1:{args.event_store_port}/docs (Ctrl-C stops everything)",
            flush=True,
        )
        while not stopping:
            dead = [p for p in started if not p.running()]
            if dead:
                print(f"[stack] {dead[0].spec.name} exited; stopping the stack", flush=True)
                code = 1
                break
            time.sleep(0.2)
    except (RuntimeError, TimeoutError) as exc:
        print(f"[stack] start-up failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        for process in reversed(started):
            process.stop()
            print(f"[stack] {process.spec.name} stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
