"""One log format for everything a service writes: its own structlog events, the standard
library's records (uvicorn, arq, websockets, httpx) and Pipecat's loguru records.

In containers (`json=True`) every line is one JSON object with `timestamp`, `level`, `logger`
and `event`, so a log collector reads them all alike; on a terminal they are readable lines.
Shared secrets are cut from every record before it is written (`redact`), and a warning that a
library repeats for every session (Pipecat's, say) is written once per process.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

# Browsers can send a socket's credential only in the query string, and uvicorn logs every
# WebSocket's path with its query ('"WebSocket /...?ticket=..." [accepted]', even with access
# logs off): the value of `ticket=` (good once, for seconds) and of `token=` (refused, but an old
# client may still send the shared secret there) is cut from every record before it is written.
_QUERY_SECRET = re.compile(r"([?&](?:token|ticket)=)[^&\s\"']*", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")


def redact(text: str) -> str:
    """`text` with the value of any `token=` or `ticket=` query parameter cut out."""
    return _QUERY_SECRET.sub(r"\1<redacted>", text)


class RedactQuerySecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class WarnOnce(logging.Filter):
    """Lets each warning through once per process: the same text with other numbers in it
    (`STTService#3: ...`) counts as the same warning. Errors always pass."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, _DIGITS.sub("#", record.getMessage()))
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


def configure_logging(*, json: bool, level: str = "info") -> None:
    """Route every record through one handler on stderr, in one format."""
    numeric = logging.getLevelName(level.upper())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(RedactQuerySecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    logging.captureWarnings(True)  # Python's warnings (deprecations) as records too


def forward_loguru(level: str = "info") -> None:
    """Send loguru's records (Pipecat logs through loguru, at DEBUG by default: a line per frame
    event) into the standard library's logging at `level`, each warning once per process."""
    from loguru import logger

    once = WarnOnce()

    class ToLogging(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if once.filter(record):
                logging.getLogger(record.name).handle(record)

    logger.remove()
    logger.add(ToLogging(), level=level.upper(), format="{message}")
