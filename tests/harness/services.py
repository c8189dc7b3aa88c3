"""Types of the service fixtures defined in the root conftest.py."""

from collections.abc import Callable

from stack import ManagedProcess

# start_event_store(db_path=None, **env) -> a running event-store process
StartEventStore = Callable[..., ManagedProcess]

# start_worker(**env) -> a running tool-worker process
StartWorker = Callable[..., ManagedProcess]
