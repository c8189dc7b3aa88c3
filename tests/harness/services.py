"""Starting services as real processes in tests, and the types of the fixtures that do it."""

from collections.abc import Callable
from pathlib import Path

from stack import ManagedProcess, ProcessSpec

# start_event_store(db_path=None, **env) -> a running event-store process
StartEventStore = Callable[..., ManagedProcess]
# start_worker(**env) -> a running tool-worker process
StartWorker = Callable[..., ManagedProcess]
# start_gateway(scenario="reply", **env) -> a running voice-gateway on the fake Realtime server
StartGateway = Callable[..., ManagedProcess]


def ws_url(process: ManagedProcess, path: str = "") -> str:
    """The WebSocket address of `path` on a running service: its HTTP address, ws scheme."""
    return process.spec.url.replace("http://", "ws://", 1) + path


class Processes:
    """Processes a test started, all stopped at its end."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._started: list[ManagedProcess] = []

    def start(self, spec: ProcessSpec) -> ManagedProcess:
        """Start with the real command and wait on its readiness endpoint."""
        if any(p.spec.name == spec.name for p in self._started):
            spec.name = f"{spec.name}-{len(self._started) + 1}"  # distinct log files
        process = ManagedProcess(spec, self._log_dir)
        try:
            process.start(timeout=30)
        except BaseException:
            process.stop()  # one that never became ready must not outlive the test
            raise
        self._started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self._started):
            process.stop()
