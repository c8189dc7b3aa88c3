"""The cross-service fixtures of tests/integration (fake Realtime server and agentic backend,
gateway and worker processes), for the security tests."""

from integration.conftest import agentic, realtime, redis, start_gateway, start_worker

__all__ = ["agentic", "realtime", "redis", "start_gateway", "start_worker"]  # fixtures
