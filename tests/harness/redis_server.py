"""A real Redis for tests: a testcontainers Redis when a Docker engine answers, else a private
`redis-server` process. Never a fake."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

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
    """testcontainers' Redis, restarted in place (same container, same published port)."""

    def __init__(self) -> None:
        from testcontainers.community.redis import RedisContainer

        self._container: Any = RedisContainer("redis:7-alpine").with_command(
            "redis-server --appendonly yes"
        )
        self.url = ""

    def start(self) -> None:
        if not self.url:
            self._container.start()
            host = self._container.get_container_host_ip()
            self.url = f"redis://{host}:{self._container.get_exposed_port(6379)}/0"
        else:
            self._container.get_wrapped_container().start()

    def stop(self) -> None:
        self._container.get_wrapped_container().stop()

    def kill(self) -> None:
        self._container.get_wrapped_container().kill()


@functools.cache
def docker_available() -> bool:
    # Without an engine socket there is nothing to ask (and docker-py leaks a socket when
    # its connection attempt fails).
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
    except Exception:  # any failure means "no engine here"
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def running_redis(data_dir: Path) -> Iterator[RedisServer]:
    server: RedisServer = ContainerRedis() if docker_available() else ProcessRedis(data_dir)
    server.start()
    try:
        yield server
    finally:
        if isinstance(server, ContainerRedis):
            server._container.stop()
        else:
            server.stop()
