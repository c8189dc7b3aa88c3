"""A real Redis for tests: a private `redis-server` process, or (for the integration tests, when
a Docker engine answers) a container of the image compose runs, from testcontainers. Never a
fake."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from harness.deploy_files import REDIS_IMAGE
from stack import ManagedProcess, free_port, redis_spec


class RedisServer(Protocol):
    url: str

    def kill(self) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ProcessRedis:
    """redis-server on a free loopback port, with append-only persistence in `data_dir`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self._process = ManagedProcess(redis_spec(self.port, data_dir), data_dir)
        self.url = self._process.spec.url

    def start(self) -> None:
        self._process.start(timeout=20)

    def stop(self) -> None:
        self._process.stop()

    def kill(self) -> None:
        self._process.kill()


class ContainerRedis:
    """A Redis container made by testcontainers from the image compose runs (`REDIS_IMAGE`),
    published on a fixed loopback port so a restarted container keeps its URL."""

    def __init__(self) -> None:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        self.port = free_port()
        self._container = (
            DockerContainer(REDIS_IMAGE)
            .with_command("redis-server --appendonly yes")
            .with_bind_ports(6379, ("127.0.0.1", self.port))
            .waiting_for(
                # Polled often: a test waits for it (testcontainers polls once a second by default).
                LogMessageWaitStrategy("Ready to accept connections").with_poll_interval(0.05)
            )
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._started = False

    def start(self) -> None:
        if not self._started:
            try:
                self._container.start()
            except BaseException:
                # Removed at once, with its Docker client: an unclosed client socket would
                # surface later as an error in whichever test the garbage collector ran in.
                self._container.stop()
                raise
            self._started = True
        else:
            self._container.get_wrapped_container().start()

    def stop(self) -> None:
        self._container.get_wrapped_container().stop(timeout=5)

    def kill(self) -> None:
        self._container.get_wrapped_container().kill()

    def remove(self) -> None:
        self._container.stop()  # testcontainers' stop removes the container and its volumes


def _socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


@functools.cache
def container_redis_unavailable() -> str | None:
    """Why testcontainers cannot give a Redis here (None: it can)."""
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if host.startswith("unix://") and not _socket_answers(host.removeprefix("unix://")):
        # Asked first without docker-py, which leaks its socket when it cannot connect.
        return f"nothing answers on {host}"
    try:
        import docker

        client = docker.from_env(timeout=5)
    except Exception as exc:  # any failure means "no engine here"
        return f"no Docker engine answers ({exc})"
    try:
        client.ping()
        client.images.get(REDIS_IMAGE)
    except Exception as exc:
        return f"{REDIS_IMAGE} is not available ({type(exc).__name__}: make images builds it)"
    finally:
        client.close()
    return None


def redis_kind(prefer_container: bool) -> str:
    """Which Redis the tests get, in words for the test log."""
    if not prefer_container:
        return "a private redis-server process"
    why_not = container_redis_unavailable()
    if why_not is None:
        return f"testcontainers: {REDIS_IMAGE} on the Docker engine"
    return f"a private redis-server process ({why_not})"


@contextlib.contextmanager
def running_redis(data_dir: Path, *, prefer_container: bool = False) -> Iterator[RedisServer]:
    """A Redis for one test: a container when `prefer_container` and an engine can run one,
    else a redis-server process."""
    container = prefer_container and container_redis_unavailable() is None
    server: RedisServer = ContainerRedis() if container else ProcessRedis(data_dir)
    server.start()
    try:
        yield server
    finally:
        if isinstance(server, ContainerRedis):
            server.remove()
        else:
            server.stop()
