"""Shapes of the GA Realtime protocol shared by the fake server's modules: ids, the default
session, session.update validation and merging, item text."""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

Event = dict[str, Any]

PCM_FORMAT = {"type": "audio/pcm", "rate": 24000}
# Keys a GA session.update may carry (the real API rejects others with `unknown_parameter`).
SESSION_KEYS = {
    "type", "object", "id", "model", "output_modalities", "instructions", "audio", "tools",
    "tool_choice", "max_output_tokens", "tracing", "prompt", "expires_at", "include",
    "truncation", "reasoning",
}  # fmt: skip
AUDIO_KEYS = {
    "audio": {"input", "output"},
    "audio.input": {"format", "transcription", "noise_reduction", "turn_detection"},
    "audio.output": {"format", "voice", "speed"},
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def default_session(model: str) -> Event:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "expires_at": int(time.time()) + 3600,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(PCM_FORMAT), "voice": "alloy", "speed": 1.0},
        },
        "include": None,
    }


def merge(base: Event, update: Event) -> Event:
    """Deep merge of a session.update: objects merge, anything else (lists, null) replaces."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def decode_tool_output(output: str) -> str:
    """Pipecat sends `json.dumps(result)`: a string result arrives JSON-quoted."""
    try:
        value = json.loads(output)
    except ValueError:
        return output
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def message_text(item: Event) -> str:
    parts = item.get("content") or []
    texts = [p.get("text") or p.get("transcript") or "" for p in parts if isinstance(p, dict)]
    return " ".join(t for t in texts if t)


def session_problem(session: Event) -> tuple[str, str, str] | None:
    """(code, message, param) for a session.update the real API would refuse."""
    if session.get("type") is None:
        return "missing_required_parameter", "Missing required parameter.", "session.type"
    if session["type"] != "realtime":
        return "invalid_value", "The fake only simulates realtime sessions.", "session.type"
    for key in session:
        if key not in SESSION_KEYS:
            return "unknown_parameter", f"Unknown parameter: 'session.{key}'.", f"session.{key}"
    for path, allowed in AUDIO_KEYS.items():
        node: Any = session
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        for key in node if isinstance(node, dict) else ():
            if key not in allowed:
                param = f"session.{path}.{key}"
                return "unknown_parameter", f"Unknown parameter: '{param}'.", param
    for side in ("input", "output"):
        fmt = ((session.get("audio") or {}).get(side) or {}).get("format")
        if fmt is not None and fmt != PCM_FORMAT and fmt != {"type": "audio/pcm"}:
            param = f"session.audio.{side}.format"
            return "invalid_value", "The fake only speaks audio/pcm at 24000 Hz.", param
    return None
