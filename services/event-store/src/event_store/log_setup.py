"""structlog setup: JSON lines in containers, readable console output on a terminal."""

import logging
import re
import sys

import structlog

# Browsers can send the shared token only in the query string, and uvicorn logs every
# WebSocket's path with its query ('"WebSocket /...?token=..." [accepted]', even with access logs
# off): the value is cut from every record before it is written.
_QUERY_TOKEN = re.compile(r"([?&]token=)[^&\s\"']*", re.IGNORECASE)


class RedactQueryTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _QUERY_TOKEN.sub(r"\1<redacted>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(*, json: bool, level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    for handler in logging.getLogger().handlers:  # filters on handlers see propagated records
        if not any(isinstance(f, RedactQueryTokens) for f in handler.filters):
            handler.addFilter(RedactQueryTokens())
