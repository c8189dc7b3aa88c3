"""The browser's TypeScript types for the gateway's messages and the event-store's API are
checked against the pydantic models they mirror: a field added, removed, renamed or retyped on
either side fails here, naming the field. (How a session ends is generated outright:
test_web_vocabulary.py.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel

from contracts import browser, progress, tickets
from event_store import models
from event_store.recordings.models import Recording
from harness.deploy_files import ROOT

MESSAGES_TS = ROOT / "web" / "src" / "protocol" / "messages.ts"
API_TS = ROOT / "web" / "src" / "api" / "types.ts"
TICKETS_TS = ROOT / "web" / "src" / "api" / "tickets.ts"

PAIRS: list[tuple[type[BaseModel], str, Any]] = [
    (browser.Transcription, "TranscriptionMessage", MESSAGES_TS),
    (browser.FunctionCall, "FunctionCallMessage", MESSAGES_TS),
    (browser.FunctionResult, "FunctionResultMessage", MESSAGES_TS),
    (browser.Progress, "ProgressMessage", MESSAGES_TS),
    (browser.SessionState, "SessionMessage", MESSAGES_TS),
    (browser.Floor, "FloorMessage", MESSAGES_TS),
    (browser.Error, "ErrorMessage", MESSAGES_TS),
    (browser.Latency, "LatencyMessage", MESSAGES_TS),
    (browser.Speaking, "SpeakingMessage", MESSAGES_TS),
    (browser.Interruption, "InterruptionMessage", MESSAGES_TS),
    (browser.Pong, "PongMessage", MESSAGES_TS),
    (browser.ClientStats, "ClientStatsMessage", MESSAGES_TS),
    (browser.ResumeRequest, "ResumeMessage", MESSAGES_TS),
    (models.StoredEvent, "StoredEvent", API_TS),
    (progress.RunProgress, "RunProgress", API_TS),
    (models.ConversationSummary, "ConversationSummary", API_TS),
    (models.ConversationDetail, "ConversationDetail", API_TS),
    (Recording, "Recording", API_TS),
    (tickets.TicketGrant, "TicketGrant", TICKETS_TS),
]

_INTERFACE = re.compile(r"(?:export )?interface (\w+)(?: extends (\w+))? \{(.*?)\n\}", re.S)
_FIELD = re.compile(r"^\s*(\w+)(\??): ([^;]+);", re.M)
_ALIASES = {"Role": '"user" | "assistant"', "ProgressSource": '"nested_agent" | "claude_code"'}


def _interfaces(path: Any) -> dict[str, dict[str, str]]:
    """Each interface's fields and their TypeScript types, inherited ones included."""
    text = path.read_text()
    found: dict[str, tuple[str | None, dict[str, str]]] = {}
    for name, parent, body in _INTERFACE.findall(text):
        fields = {field: _ALIASES.get(t.strip(), t.strip()) for field, _, t in _FIELD.findall(body)}
        found[name] = (parent or None, fields)

    def resolve(name: str) -> dict[str, str]:
        parent, fields = found[name]
        return {**(resolve(parent) if parent else {}), **fields}

    return {name: resolve(name) for name in found}


def _ts_type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """The TypeScript type a JSON Schema property should have, written as messages.ts does."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return name if name in defs else "unknown"
    if "anyOf" in schema:
        return " | ".join(_ts_type(s, defs) for s in schema["anyOf"])
    if "const" in schema:
        return f'"{schema["const"]}"'
    if "enum" in schema:
        return " | ".join(f'"{v}"' for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"{_ts_type(schema['items'], defs)}[]"
    return {
        "string": "string",
        "boolean": "boolean",
        "integer": "number",
        "number": "number",
        "null": "null",
        "object": "Record<string, unknown>",
    }.get(kind or "", "unknown")


@pytest.mark.parametrize(("model", "interface", "path"), PAIRS, ids=[p[1] for p in PAIRS])
def test_the_typescript_interface_matches_the_model(
    model: type[BaseModel], interface: str, path: Any
) -> None:
    schema = model.model_json_schema(mode="serialization")
    defs = schema.get("$defs", {})
    expected = {name: _ts_type(prop, defs) for name, prop in schema["properties"].items()}
    declared = _interfaces(path)[interface]
    assert sorted(declared) == sorted(expected), f"{interface}: fields differ from {model}"
    for name, ts in expected.items():
        if ts == "unknown" or "StoredEvent" in ts:
            continue  # nested models are checked as their own pair
        assert declared[name].replace("'", '"') == ts, f"{interface}.{name}"
