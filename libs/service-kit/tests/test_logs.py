"""Every record a service writes comes out in one format, secrets cut, warnings once.

Each case runs in a fresh interpreter: logging is configured once per process, as in a service.
"""

import json
import subprocess
import sys
import textwrap

SCRIPT = """
import logging, warnings
import structlog
from loguru import logger
from service_kit.logs import configure_logging, forward_loguru

configure_logging(json={json}, level="info")
forward_loguru("info")
structlog.get_logger("svc").info("session_started", conversation_id="c1", session_id="s1")
logging.getLogger("uvicorn.error").info('"WebSocket /ws/c1?token=s3cret&x=1" 403')
logging.getLogger("uvicorn.error").info('"WebSocket /ws/c1?format=raw&ticket=t1ck3t" [accepted]')
for n in range(3):
    logger.warning(f"WhisperSTTService#{{n}}: ttfs_p99_latency not set")
logger.debug("a line per frame, below the level")
logger.error("an error is always written")
warnings.warn("old API", DeprecationWarning, stacklevel=1)
try:
    1 / 0
except ZeroDivisionError:
    structlog.get_logger("svc").exception("failed")
"""


def _run(json_output: bool) -> list[str]:
    script = textwrap.dedent(SCRIPT.format(json=json_output))
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr.splitlines()


def test_every_record_is_one_json_object_with_the_same_keys() -> None:
    records = [json.loads(line) for line in _run(json_output=True)]
    for record in records:
        assert {"timestamp", "level", "logger", "event"} <= set(record), record
    by_event = {r["event"]: r for r in records}
    started = by_event["session_started"]
    assert (started["conversation_id"], started["session_id"]) == ("c1", "s1")
    assert by_event["an error is always written"]["level"] == "error"
    assert "ZeroDivisionError" in by_event["failed"]["exception"]
    assert any("old API" in r["event"] for r in records if r["logger"] == "py.warnings")


def test_secrets_in_query_strings_are_cut() -> None:
    lines = _run(json_output=True)
    assert not any("s3cret" in line or "t1ck3t" in line for line in lines)
    assert any("token=<redacted>&x=1" in line for line in lines)
    assert any("format=raw&ticket=<redacted>" in line for line in lines)


def test_a_repeated_library_warning_is_written_once() -> None:
    records = [json.loads(line) for line in _run(json_output=True)]
    warned = [r for r in records if "ttfs_p99_latency" in r["event"]]
    assert [r["event"] for r in warned] == ["WhisperSTTService#0: ttfs_p99_latency not set"]
    assert not any("below the level" in r["event"] for r in records)


def test_a_terminal_gets_readable_lines() -> None:
    lines = _run(json_output=False)
    assert any("session_started" in line and "conversation_id" in line for line in lines)
    assert not any(line.startswith("{") for line in lines)
