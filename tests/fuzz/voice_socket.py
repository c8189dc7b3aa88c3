"""A plain (synchronous) voice-endpoint client for fuzzing: send frames exactly as given (bytes
with a text opcode included), then see what came of them.

After the frames, a probe the gateway must answer shows that the session went on: a `ping`
(raw format: `pong` with its id) or an RTVI `send-text` without its content (rtvi format:
Pipecat's RTVI `error-response` with its id).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from pipecat.frames.protobufs import frames_pb2
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fuzz.wire_cases import Sent
from harness.voice_clients import VoiceClient

WireFormat = Literal["raw", "rtvi"]
TIMEOUT_S = 10.0  # a bound on a hang, not a timing assertion


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)  # `error` codes, in order
    close_code: int | None = None  # None: still open when the probe was answered
    answered: bool = False


def probe_frame(wire_format: WireFormat, probe_id: str) -> str | bytes:
    if wire_format == "raw":
        return json.dumps({"type": "ping", "id": probe_id})
    frame = frames_pb2.Frame()  # type: ignore[attr-defined]
    frame.message.data = json.dumps(
        {"label": "rtvi-ai", "type": "send-text", "id": probe_id, "data": {}}
    )
    return bytes(frame.SerializeToString())


def is_answer(wire_format: WireFormat, decoded: dict[str, Any], probe_id: str) -> bool:
    if wire_format == "raw":
        return decoded.get("type") == "pong" and decoded.get("id") == probe_id
    return decoded.get("type") == "error-response" and decoded.get("id") == probe_id


@contextmanager
def voice_socket(url: str, wire_format: WireFormat) -> Iterator[VoiceSocket]:
    """A session, once the gateway has said it started; closed on the way out."""
    # No keepalive pings: see `healthy` in conftest.py (they would disturb Hypothesis).
    with connect(
        url, open_timeout=TIMEOUT_S, close_timeout=2, max_size=None, ping_interval=None
    ) as ws:
        sock = VoiceSocket(ws, wire_format)
        sock.wait_until_started()
        yield sock


class VoiceSocket:
    """One session's socket: frames sent as given, what arrives decoded and noted."""

    def __init__(self, ws: ClientConnection, wire_format: WireFormat) -> None:
        self.wire_format = wire_format
        self._client = VoiceClient(wire_format)
        self._ws = ws
        self.outcome = Outcome()

    def wait_until_started(self) -> None:
        started = self._wait_for(
            lambda m: m.get("type") == "session" and m.get("state") == "started"
        )
        assert started, f"the session did not start: {self.outcome}"

    def send(self, sent: Sent) -> bool:
        """Send one frame; False when the gateway has already closed the socket."""
        try:
            if sent.text_opcode:
                assert isinstance(sent.data, bytes)
                self._ws.send(sent.data, text=True)
            else:
                self._ws.send(sent.data)
        except ConnectionClosed:
            return False
        return True

    def probe(self, timeout_s: float = TIMEOUT_S) -> bool:
        """Ask something the gateway must answer; True once it has (False: closed, or no
        answer within `timeout_s`)."""
        probe_id = f"probe-{uuid.uuid4().hex[:12]}"
        try:
            self._ws.send(probe_frame(self.wire_format, probe_id))
        except ConnectionClosed:
            return False
        try:
            self.outcome.answered = self._wait_for(
                lambda m: is_answer(self.wire_format, m, probe_id), timeout_s
            )
        except TimeoutError:
            return False
        return self.outcome.answered

    def until_closed(self) -> int | None:
        self._wait_for(lambda _: False)
        return self.outcome.close_code

    def _wait_for(self, wanted: Any, timeout_s: float = TIMEOUT_S) -> bool:
        """Read (noting errors) until a decoded message satisfies `wanted`, or the socket
        closes (False)."""
        try:
            while True:
                frame = self._ws.recv(timeout=timeout_s)
                message = self._decode(frame)
                if message is None:
                    continue
                if message.get("type") == "error" and "code" in message:
                    self.outcome.errors.append(str(message["code"]))
                if wanted(message):
                    return True
        except ConnectionClosed:
            self.outcome.close_code = self._ws.close_code
            return False

    def _decode(self, frame: str | bytes) -> dict[str, Any] | None:
        decoded = self._client.decode(frame)
        return decoded.message or decoded.rtvi


def exchange(url: str, wire_format: WireFormat, frames: Sequence[Sent]) -> Outcome:
    """Open a session, send `frames` (up to the first that must close it), then either wait
    for the close or probe that the session goes on; the session is closed afterwards."""
    with voice_socket(url, wire_format) as sock:
        for sent in frames:
            if not sock.send(sent):
                break
            if sent.closes is not None:
                sock.until_closed()
                return sock.outcome
        sock.probe()
        return sock.outcome
