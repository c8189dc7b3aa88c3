"""What the fuzz tests check a gateway with: its URL, a healthy session beside the fuzzed ones,
health, and the live-session gauge."""

from __future__ import annotations

import json
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import ClientConnection

from harness.services import ws_url
from stack import ManagedProcess

MAX_FRAME_BYTES = 4096  # small, so oversized frames are cheap to make
TIMEOUT_S = 10.0  # a bound on a hang, not a timing assertion


def voice_url(gateway: ManagedProcess, query: str = "", cid: str | None = None) -> str:
    cid = cid or f"fuzz-{uuid.uuid4().hex[:8]}"
    return ws_url(gateway, f"/api/realtime/pipecat/ws/{cid}?{query}")


class HealthySession:
    """A well-behaved raw-format session that must keep answering whatever others send."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    def answers_ping(self) -> bool:
        ping_id = uuid.uuid4().hex
        self._ws.send(json.dumps({"type": "ping", "id": ping_id}))
        while True:
            frame = self._ws.recv(timeout=TIMEOUT_S)
            if isinstance(frame, str):
                message = json.loads(frame)
                if message["type"] == "pong" and message.get("id") == ping_id:
                    return True


def gateway_ok(gateway: ManagedProcess) -> bool:
    return gateway.running() and httpx.get(f"{gateway.spec.url}/healthz").status_code == 200


def sessions_active(gateway: ManagedProcess) -> float:
    exported = httpx.get(f"{gateway.spec.url}/metrics").text
    for family in text_string_to_metric_families(exported):
        for sample in family.samples:
            if sample.name == "gateway_sessions_active":
                return sample.value
    raise AssertionError("gateway_sessions_active is not exported")
