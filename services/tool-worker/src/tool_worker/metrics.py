"""Prometheus metrics of the tool-worker."""

from prometheus_client import Counter, Gauge, Histogram

from service_kit.outbox import OutboxMetrics

TOOL_CALLS = Counter(
    "tool_worker_tool_calls_total", "Tool calls by tool and outcome", ["tool", "outcome"]
)
TOOL_CALL_SECONDS = Histogram(
    "tool_worker_tool_call_duration_seconds",
    "Time from job start to result",
    ["tool"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BACKEND_CONNECTIONS = Gauge(
    "tool_worker_backend_connections", "Open sockets to the agentic backend", ["kind"]
)
BACKEND_CONNECT_FAILURES = Counter(
    "tool_worker_backend_connect_failures_total",
    "Failed connection attempts to the agentic backend",
    ["kind", "reason"],
)
BACKEND_MESSAGES = Counter(
    "tool_worker_backend_messages_total", "Messages received from the agentic backend", ["kind"]
)
BACKEND_MALFORMED = Counter(
    "tool_worker_backend_malformed_total", "Backend messages that failed validation", ["kind"]
)
RUNS_IN_PROGRESS = Gauge("tool_worker_runs_in_progress", "Team or Claude Code runs", ["kind"])
JOBS_FORWARDED = Counter(
    "tool_worker_jobs_forwarded_total", "Jobs handed to the worker holding the conversation"
)
EVENTS = OutboxMetrics.named("tool_worker")  # tool_worker_events_{published_total,...}
BACKEND_QUIET = Counter(
    "tool_worker_backend_quiet_total",
    "Runs given up after the backend sent nothing for the quiet timeout",
    ["kind"],
)
