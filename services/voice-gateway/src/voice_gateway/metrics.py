"""Prometheus metrics of the voice-gateway (besides the event publisher's own)."""

from prometheus_client import Counter, Gauge, Histogram

SESSIONS_ACTIVE = Gauge("gateway_sessions_active", "Voice sessions open on this replica")
SESSIONS_ENDED = Counter("gateway_sessions_total", "Sessions ended, by reason", ["reason"])
SESSIONS_REFUSED = Counter(
    "gateway_sessions_refused_total", "Connections refused before a session started", ["reason"]
)
TOOL_DISPATCH_SECONDS = Histogram(
    "gateway_tool_dispatch_seconds",
    "Tool call dispatch to result",
    ["tool"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("gateway_errors_total", "Errors by kind", ["kind"])
