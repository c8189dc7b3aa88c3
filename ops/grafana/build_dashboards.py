"""Write the Grafana dashboards (ops/grafana/dashboards/*.json) from one description.

The JSON files are what Grafana's provisioning reads and are committed; this script is where
they are edited, so every panel gets the same datasource, layout and legend conventions.
`--check` exits 1 when a committed file differs from what this script writes (tests/ops runs it).

    .venv/bin/python ops/grafana/build_dashboards.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources/prometheus.yml
SCHEMA_VERSION = 39
RATE = "$__rate_interval"  # at least four scrapes: rates never come from a single sample
SERVICES = "voice-gateway|event-store|tool-worker"

Json = dict[str, Any]


def quantile(q: float, bucket: str, by: str = "") -> str:
    """The q-quantile of a histogram, from the rate of its `_bucket` series, grouped by le."""
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({bucket}_bucket[{RATE}])))"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    description: str = ""
    width: int = 12
    threshold: float | None = None  # drawn red from this value on
    stack: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def q(expr: str, legend: str = "") -> Query:
    return Query(expr, legend)


def _thresholds(threshold: float | None) -> Json:
    steps: list[Json] = [{"color": "green", "value": None}]
    if threshold is not None:
        steps.append({"color": "red", "value": threshold})
    return {"mode": "absolute", "steps": steps}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int, height: int) -> Json:
    defaults: Json = {"unit": panel.unit, "thresholds": _thresholds(panel.threshold)}
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "off" if panel.threshold is None else "line"},
        }
        options: Json = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "textMode": "auto",
        }
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "range": True,
            }
            for index, query in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> Json:
    panels: list[Json] = []
    x = y = row_height = 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        height = 4 if panel.kind == "stat" else 8
        if x + panel.width > 24:  # left to right, then the next row
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, panel_id, x, y, height))
        x += panel.width
        row_height = max(row_height, height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["agentic-voice"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,  # a shared crosshair: stages and totals line up in time
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "templating": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["agentic-voice"],
                "asDropdown": False,
                "includeVars": False,
                "keepTime": True,
                "title": "agentic-voice",
            }
        ],
        "panels": panels,
    }


VOICE_LATENCY = Dashboard(
    "av-voice-latency",
    "agentic-voice / Voice latency",
    "From the end of the user's speech to the assistant's first audio, and where the time goes.",
    (
        Panel(
            "Reply latency p50 (end of speech to first audio)",
            (q(quantile(0.5, "gateway_voice_latency_seconds")),),
            unit="s",
            kind="stat",
            width=8,
            threshold=1.5,
        ),
        Panel(
            "Reply latency p95",
            (q(quantile(0.95, "gateway_voice_latency_seconds")),),
            unit="s",
            kind="stat",
            width=8,
            threshold=1.5,
        ),
        Panel(
            "Turns answered per minute",
            (q(f"sum(rate(gateway_voice_latency_seconds_count[{RATE}])) * 60"),),
            kind="stat",
            width=8,
        ),
        Panel(
            "Reply latency: end of speech to first assistant audio",
            (
                q(quantile(0.5, "gateway_voice_latency_seconds"), "p50"),
                q(quantile(0.95, "gateway_voice_latency_seconds"), "p95"),
                q(quantile(0.99, "gateway_voice_latency_seconds"), "p99"),
            ),
            unit="s",
            width=24,
            threshold=1.5,
            description="The user's last voiced frame in to the first assistant audio out, "
            "measured in the gateway. The VoiceLatencyHigh alert fires at p95 over 1.5 s.",
        ),
        Panel(
            "Turn stages, p50 (local brain)",
            (q(quantile(0.5, "gateway_turn_stage_seconds", "stage"), "{{stage}}"),),
            unit="s",
            description="end_of_turn_wait: silence until the turn ends (Whisper runs inside it); "
            "speech_recognition: Whisper; brain: the LLM or command router; "
            "speech_synthesis_first_byte: Piper's first audio.",
        ),
        Panel(
            "Turn stages, p95 (local brain)",
            (q(quantile(0.95, "gateway_turn_stage_seconds", "stage"), "{{stage}}"),),
            unit="s",
        ),
        Panel(
            "Brain: end of turn to first audio",
            (
                q(quantile(0.5, "gateway_upstream_first_byte_seconds"), "p50"),
                q(quantile(0.95, "gateway_upstream_first_byte_seconds"), "p95"),
            ),
            unit="s",
            description="For the Realtime brain this is the OpenAI round trip; for the local "
            "brain, recognition, the brain and Piper's first audio together.",
        ),
        Panel(
            "Tool dispatch p95, by tool (gateway to result)",
            (q(quantile(0.95, "gateway_tool_dispatch_seconds", "tool"), "{{tool}}"),),
            unit="s",
        ),
        Panel(
            "At the listener's ear: mouth to ear",
            (
                q(quantile(0.5, "gateway_client_mouth_to_ear_seconds"), "p50"),
                q(quantile(0.95, "gateway_client_mouth_to_ear_seconds"), "p95"),
            ),
            unit="s",
            threshold=1.5,
            description="Measured by the clients where the audio plays (client_stats): the "
            "user's last voiced microphone sample to the first assistant sample played. The "
            "difference from the reply latency above is the network and the client's buffer.",
        ),
        Panel(
            "At the listener's ear: playback underruns per minute of assistant audio",
            (
                q(
                    f"sum(rate(gateway_client_underruns_total[{RATE}])) / "
                    f"sum(rate(gateway_client_played_seconds_total[{RATE}])) * 60",
                    "underruns",
                ),
                q(quantile(0.5, "gateway_client_jitter_buffer_seconds"), "jitter buffer p50 (s)"),
            ),
            description="Times the client's player ran dry inside an assistant turn (a gap "
            "the listener hears), per minute of audio played, and the depth of its jitter "
            "buffer. Goal: 0 underruns with the buffer at or under 120 ms.",
        ),
    ),
)

SESSIONS = Dashboard(
    "av-sessions",
    "agentic-voice / Sessions",
    "Voice sessions: open, started and ended (by reason), refused, and the audio they carry.",
    (
        Panel(
            "Open sessions",
            (q("sum(gateway_sessions_active)"),),
            kind="stat",
            width=8,
        ),
        Panel(
            "Sessions ended in the last hour",
            (q("sum(increase(gateway_sessions_total[1h]))"),),
            kind="stat",
            width=8,
        ),
        Panel(
            "Sessions refused in the last hour",
            (q("sum(increase(gateway_sessions_refused_total[1h]))"),),
            kind="stat",
            width=8,
            threshold=1,
        ),
        Panel(
            "Open sessions, by gateway",
            (q("sum by (instance) (gateway_sessions_active)", "{{instance}}"),),
        ),
        Panel(
            "Asyncio tasks, by gateway",
            (q("sum by (instance) (gateway_asyncio_tasks)", "{{instance}}"),),
            description="Tasks alive in the gateway process: steady growth with a steady "
            "number of sessions is a leak.",
        ),
        Panel(
            "Sessions ended per minute, by reason",
            (
                q(
                    f"sum by (reason) (rate(gateway_sessions_total[{RATE}])) * 60",
                    "{{reason}}",
                ),
            ),
            stack=True,
            description="client_closed, idle, max_duration, stopped, shutdown, upstream_error...",
        ),
        Panel(
            "Sessions refused per minute, by reason",
            (
                q(
                    f"sum by (reason) (rate(gateway_sessions_refused_total[{RATE}])) * 60",
                    "{{reason}}",
                ),
            ),
            stack=True,
        ),
        Panel(
            "Audio frames per second",
            (
                q(
                    f"sum by (direction) (rate(gateway_audio_frames_total[{RATE}]))",
                    "{{direction}}",
                ),
            ),
            description="in: microphone frames (50 a second per talking session at 20 ms); "
            "out: assistant audio.",
        ),
        Panel(
            "Audio bandwidth",
            (
                q(
                    f"sum by (direction) (rate(gateway_audio_bytes_total[{RATE}]))",
                    "{{direction}}",
                ),
            ),
            unit="Bps",
        ),
    ),
)

TOOL_CALLS = Dashboard(
    "av-tool-calls",
    "agentic-voice / Tool calls",
    "The five voice tools run by the tool-worker, and its sockets to the agent team and "
    "Claude Code.",
    (
        Panel(
            "Tool calls per minute, by tool and outcome",
            (
                q(
                    f"sum by (tool, outcome) (rate(tool_worker_tool_calls_total[{RATE}])) * 60",
                    "{{tool}} {{outcome}}",
                ),
            ),
            width=24,
            stack=True,
        ),
        Panel(
            "Failed share of tool calls",
            (
                q(
                    f'sum(rate(tool_worker_tool_calls_total{{outcome!="ok"}}[{RATE}])) '
                    f"/ sum(rate(tool_worker_tool_calls_total[{RATE}]))",
                    "failed",
                ),
            ),
            unit="percentunit",
            threshold=0.2,
        ),
        Panel(
            "Tool call duration p95, by tool (worker)",
            (q(quantile(0.95, "tool_worker_tool_call_duration_seconds", "tool"), "{{tool}}"),),
            unit="s",
        ),
        Panel(
            "Dispatch to result p95, by tool (gateway's view)",
            (q(quantile(0.95, "gateway_tool_dispatch_seconds", "tool"), "{{tool}}"),),
            unit="s",
            description="Includes the queue: the gap to the worker's own duration is Redis "
            "and waiting for a free worker.",
        ),
        Panel(
            "Runs in progress, by backend",
            (q("sum by (kind) (tool_worker_runs_in_progress)", "{{kind}}"),),
        ),
        Panel(
            "Open backend sockets, by backend",
            (q("sum by (kind) (tool_worker_backend_connections)", "{{kind}}"),),
        ),
        Panel(
            "Backend messages per minute, by backend",
            (
                q(
                    f"sum by (kind) (rate(tool_worker_backend_messages_total[{RATE}])) * 60",
                    "{{kind}}",
                ),
                q(
                    f"sum by (kind) (rate(tool_worker_backend_malformed_total[{RATE}])) * 60",
                    "{{kind}} malformed",
                ),
            ),
        ),
        Panel(
            "Backend connection failures and silent runs given up, per minute",
            (
                q(
                    "sum by (kind, reason) "
                    f"(rate(tool_worker_backend_connect_failures_total[{RATE}])) * 60",
                    "{{kind}} {{reason}}",
                ),
                q(
                    f"sum by (kind) (rate(tool_worker_backend_quiet_total[{RATE}])) * 60",
                    "{{kind}} quiet",
                ),
            ),
        ),
        Panel(
            "Jobs forwarded to the worker holding the conversation, per minute",
            (q(f"sum(rate(tool_worker_jobs_forwarded_total[{RATE}])) * 60", "forwarded"),),
            width=24,
        ),
    ),
)

EVENT_STORE = Dashboard(
    "av-event-store",
    "agentic-voice / Event store",
    "Conversation events from the Redis stream into SQLite: throughput, lag, batches, the API.",
    (
        Panel(
            "Events persisted per second",
            (q(f"sum(rate(event_store_events_ingested_total[{RATE}]))"),),
            kind="stat",
            width=6,
        ),
        Panel(
            "Persistence lag p95",
            (q(quantile(0.95, "event_store_persistence_lag_seconds")),),
            unit="s",
            kind="stat",
            width=6,
            threshold=5,
        ),
        Panel(
            "Backlog (entries not yet persisted)",
            (q("sum(event_store_consumer_lag)"),),
            kind="stat",
            width=6,
            threshold=1000,
        ),
        Panel(
            "Connected to Redis",
            (q("min(event_store_redis_up)"),),
            kind="stat",
            width=6,
        ),
        Panel(
            "Events per second: published by the gateway, persisted by the store",
            (
                q(f"sum(rate(gateway_events_published_total[{RATE}]))", "published (gateway)"),
                q(
                    f"sum(rate(tool_worker_events_published_total[{RATE}]))",
                    "published (tool-worker)",
                ),
                q(f"sum(rate(event_store_events_ingested_total[{RATE}]))", "persisted"),
                q(f"sum(rate(event_store_events_duplicate_total[{RATE}]))", "duplicates ignored"),
            ),
            width=24,
            description="Persisted also counts events posted to the HTTP API.",
        ),
        Panel(
            "Persistence lag (event timestamp to commit)",
            (
                q(quantile(0.5, "event_store_persistence_lag_seconds"), "p50"),
                q(quantile(0.95, "event_store_persistence_lag_seconds"), "p95"),
                q(quantile(0.99, "event_store_persistence_lag_seconds"), "p99"),
            ),
            unit="s",
            threshold=5,
        ),
        Panel(
            "Backlog, and the publishers' buffers while Redis is away",
            (
                q("sum(event_store_consumer_lag)", "store backlog"),
                q("sum(gateway_events_buffered)", "gateway buffer"),
                q("sum(tool_worker_events_buffered)", "tool-worker buffer"),
            ),
        ),
        Panel(
            "Batch size (entries per commit)",
            (
                q(quantile(0.5, "event_store_batch_size"), "p50"),
                q(quantile(0.95, "event_store_batch_size"), "p95"),
            ),
        ),
        Panel(
            "Commit time",
            (
                q(quantile(0.5, "event_store_commit_seconds"), "p50"),
                q(quantile(0.95, "event_store_commit_seconds"), "p95"),
            ),
            unit="s",
        ),
        Panel(
            "History API p95, by route",
            (
                q(
                    quantile(0.95, "event_store_http_request_duration_seconds", "route"),
                    "{{route}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Live-stream subscribers",
            (q("sum(event_store_live_subscribers)", "subscribers"),),
        ),
    ),
)

ERRORS = Dashboard(
    "av-errors",
    "agentic-voice / Errors",
    "Everything that went wrong, per service, and the alerts firing now.",
    (
        Panel(
            "Services up",
            (q(f'up{{job=~"{SERVICES}"}}', "{{job}}"),),
            kind="stat",
            width=12,
        ),
        Panel(
            "Alerts firing",
            (q('sum by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}"),),
            kind="stat",
            width=12,
            threshold=1,
        ),
        Panel(
            "Gateway errors per minute, by kind",
            (q(f"sum by (kind) (rate(gateway_errors_total[{RATE}])) * 60", "{{kind}}"),),
            description="Protocol errors sent to clients (bad frames, unknown types) and "
            "upstream/brain failures.",
        ),
        Panel(
            "Sessions ended by errors, per minute",
            (
                q(
                    'sum by (reason) (rate(gateway_sessions_total{reason=~"upstream_error|error"}'
                    f"[{RATE}])) * 60",
                    "{{reason}}",
                ),
            ),
        ),
        Panel(
            "Failed tool calls per minute, by tool and outcome",
            (
                q(
                    "sum by (tool, outcome) "
                    f'(rate(tool_worker_tool_calls_total{{outcome!="ok"}}[{RATE}])) * 60',
                    "{{tool}} {{outcome}}",
                ),
            ),
        ),
        Panel(
            "Backend failures per minute: connections, malformed messages, silent runs",
            (
                q(
                    "sum by (kind, reason) "
                    f"(rate(tool_worker_backend_connect_failures_total[{RATE}])) * 60",
                    "{{kind}} {{reason}}",
                ),
                q(
                    f"sum by (kind) (rate(tool_worker_backend_malformed_total[{RATE}])) * 60",
                    "{{kind}} malformed",
                ),
                q(
                    f"sum by (kind) (rate(tool_worker_backend_quiet_total[{RATE}])) * 60",
                    "{{kind}} quiet",
                ),
            ),
        ),
        Panel(
            "Event-store ingest errors and dead letters per minute",
            (
                q(
                    f"sum by (kind) (rate(event_store_ingest_errors_total[{RATE}])) * 60",
                    "ingest {{kind}}",
                ),
                q(
                    f"sum by (reason) (rate(event_store_events_dead_lettered_total[{RATE}])) * 60",
                    "dead letter {{reason}}",
                ),
            ),
        ),
        Panel(
            "History API server errors per minute, by route",
            (
                q(
                    "sum by (route) (rate(event_store_http_request_duration_seconds_count"
                    f'{{status=~"5.."}}[{RATE}])) * 60',
                    "{{route}}",
                ),
            ),
        ),
        Panel(
            "Conversation events dropped in the last hour (Redis away past the buffers)",
            (
                q("sum(increase(gateway_events_dropped_total[1h]))", "gateway"),
                q("sum(increase(tool_worker_events_dropped_total[1h]))", "tool-worker"),
            ),
            width=24,
        ),
    ),
)

DASHBOARDS = (VOICE_LATENCY, SESSIONS, TOOL_CALLS, EVENT_STORE, ERRORS)


def rendered() -> dict[Path, str]:
    return {
        OUT_DIR / f"{d.uid.removeprefix('av-')}.json": json.dumps(dashboard_json(d), indent=2)
        + "\n"
        for d in DASHBOARDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the JSON files are stale")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
        extra = sorted(set(OUT_DIR.glob("*.json")) - set(files))
        for path in [*stale, *extra]:
            print(f"stale: {path} (run ops/grafana/build_dashboards.py)", file=sys.stderr)
        return 1 if stale or extra else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
