"""Prometheus metrics of the event-store (default registry, served at /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_INGESTED = Counter(
    "event_store_events_ingested_total", "Events committed to SQLite from the stream or the API"
)
EVENTS_DUPLICATE = Counter(
    "event_store_events_duplicate_total", "Events ignored because their id was already stored"
)
EVENTS_DEAD_LETTERED = Counter(
    "event_store_events_dead_lettered_total",
    "Malformed stream entries set aside in the dead_letters table",
    ["reason"],
)
BATCH_SIZE = Histogram(
    "event_store_batch_size",
    "Stream entries per committed batch",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10_000, 20_000),
)
COMMIT_SECONDS = Histogram(
    "event_store_commit_seconds",
    "Time to write and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PERSISTENCE_LAG_SECONDS = Histogram(
    "event_store_persistence_lag_seconds",
    "From an event's timestamp to its commit",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CONSUMER_LAG = Gauge(
    "event_store_consumer_lag", "Stream entries not yet persisted (undelivered plus pending)"
)
INGEST_ERRORS = Counter(
    "event_store_ingest_errors_total", "Failures in the ingest loop, by kind", ["kind"]
)
REDIS_UP = Gauge("event_store_redis_up", "1 while the stream consumer is connected to Redis")
LIVE_SUBSCRIBERS = Gauge("event_store_live_subscribers", "Open live-stream WebSockets")
HTTP_REQUEST_SECONDS = Histogram(
    "event_store_http_request_duration_seconds",
    "API request latency",
    ["method", "route", "status"],
)
DISK_FULL = Gauge(
    "event_store_disk_full",
    "1 while writes are refused because the database's disk is full (entries wait in Redis)",
)
DISK_FREE_BYTES = Gauge(
    "event_store_disk_free_bytes", "Free space on the database's filesystem, at the last check"
)
RECORDINGS_DELETED = Counter(
    "event_store_recordings_deleted_total",
    "Recordings deleted: over EVENT_STORE_RECORDINGS_MAX_MB (size) or _MAX_DAYS (age), with their"
    " conversation (conversation), or files no row names any more (orphan)",
    ["reason"],
)
RECORDINGS_BYTES = Gauge(
    "event_store_recordings_bytes", "Disk space the recordings take (finished and in progress)"
)
