"""The cross-service fixtures of tests/integration (gateway and worker processes) for the
security tests; the fakes they use are the root conftest's."""

from integration.conftest import redis, start_gateway, start_worker

__all__ = ["redis", "start_gateway", "start_worker"]  # fixtures
