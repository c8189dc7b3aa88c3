"""A protocol-faithful test double of the OpenAI Realtime (GA) server.

    async with FakeRealtimeServer() as fake:             # in the test's event loop
        url = fake.url("tool_call")                       # -> OPENAI_REALTIME_URL
        ...
        conn = await fake.async_wait_for_connection()
        await fake.async_wait_for(lambda: conn.responses(), what="a response")

    with FakeRealtimeServer(audio_speed=1.0) as fake:    # in a thread (sync tests, benchmarks)
        ...

Scenarios (URL path `/<scenario>/v1/realtime`): reply, tool_call, barge_in, error,
close_mid_response, unauthorized, stall, stall_mid_conversation; or any `Scenario` passed to
`url()` or the constructor.

Run standalone: `.venv/bin/python -m fakes.openai_realtime --port 8765`.
"""

from __future__ import annotations

import argparse
import signal
import threading

from fakes.realtime.audio import SAMPLE_RATE, VadConfig
from fakes.realtime.protocol import decode_tool_output
from fakes.realtime.recording import (
    AudioDeltaSent,
    ConnectionRecord,
    Rejection,
    ResponseRecord,
    UserTurn,
)
from fakes.realtime.scenarios import (
    BUILTIN,
    TOOL_CALL_TEXT,
    Action,
    CallTool,
    Fail,
    Reject,
    Scenario,
    Speak,
)
from fakes.realtime.server import FakeRealtimeServer

__all__ = [
    "BUILTIN",
    "SAMPLE_RATE",
    "TOOL_CALL_TEXT",
    "Action",
    "AudioDeltaSent",
    "CallTool",
    "ConnectionRecord",
    "Fail",
    "FakeRealtimeServer",
    "Reject",
    "Rejection",
    "ResponseRecord",
    "Scenario",
    "Speak",
    "UserTurn",
    "VadConfig",
    "decode_tool_output",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.25, help="audio pacing, x real time")
    args = parser.parse_args()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with FakeRealtimeServer(port=args.port, audio_speed=args.speed) as fake:
        for name in BUILTIN:
            print(f"{name}: {fake.url(name)}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
