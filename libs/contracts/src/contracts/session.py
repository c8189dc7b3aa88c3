"""How a voice session ends, and what the browser may do about it.

The gateway closes the voice socket with one of `CloseCode` and, for a session that ran, the
`EndReason` as the close reason (and in the `session` stopped message). The browser's
reconnect policy reads the same names (web/src/protocol/vocabulary.ts is generated from this
module by scripts/gen_web_vocabulary.py, and a test fails when it is stale).
"""

from enum import IntEnum, StrEnum


class EndReason(StrEnum):
    """Why a session ended: in its `session` stopped message, its close reason and the
    `voice.session_ended` event."""

    CLIENT_CLOSED = "client_closed"  # the browser stopped or went away
    STOPPED = "stopped"  # an operator stopped it (sessions API)
    IDLE = "idle"  # nothing heard for GATEWAY_IDLE_TIMEOUT_S
    MAX_DURATION = "max_duration"  # GATEWAY_MAX_DURATION_S reached
    UPSTREAM_ERROR = "upstream_error"  # the brain's connection failed
    ERROR = "error"  # the session's pipeline failed
    SHUTDOWN = "shutdown"  # the gateway is stopping
    CLIENT_STALLED = "client_stalled"  # the browser stopped reading; the socket is aborted
    # The connection dropped and the client did not resume within GATEWAY_RESUME_S.
    RESUME_EXPIRED = "resume_expired"


class CloseCode(IntEnum):
    """The WebSocket close codes of the voice socket."""

    NORMAL = 1000  # the session ended as someone meant (the reason says who)
    GOING_AWAY = 1001  # the gateway is stopping: another replica or a restart will answer
    POLICY = 1008  # refused: a bad query, token, ticket or origin, too many sessions per address
    TOO_BIG = 1009  # a frame over GATEWAY_MAX_FRAME_BYTES
    INTERNAL_ERROR = 1011  # the session failed (its brain's connection, its pipeline)
    TRY_AGAIN_LATER = 1013  # the gateway is at its session limit
    # Application codes (4000-4999). The gateway's brain cannot run (a missing key or model):
    # no retry helps until an operator fixes its configuration.
    BRAIN_UNAVAILABLE = 4001
    # A resume was refused (the session ended or expired, or the key or the count is wrong):
    # the session, if any, is untouched; the client starts a new one.
    RESUME_REFUSED = 4002
    # This connection was taken over by a resume of its session (on another connection).
    REPLACED = 4003
    # A device could not join the live session (none, another format, a name taken).
    JOIN_REFUSED = 4004


class RefusalKind(StrEnum):
    """Why a connection was refused before its session started (`reason` label of
    `gateway_sessions_refused_total`)."""

    ORIGIN = "origin"
    TOKEN = "token"  # noqa: S105 (a missing or wrong token, not a secret)
    TICKET = "ticket"  # a ticket unknown, expired, used, or for another conversation or socket
    BRAIN_UNAVAILABLE = "brain_unavailable"
    CAPACITY = "capacity"
    ADDRESS_RATE = "address_rate"
    ADDRESS_SESSIONS = "address_sessions"
    RESUME = "resume"  # a resume that cannot be honoured (CloseCode.RESUME_REFUSED)
    JOIN = "join"  # a device that cannot join (CloseCode.JOIN_REFUSED)


# Sessions that ended as somebody meant: the browser does not reconnect.
DELIBERATE_ENDS = frozenset(
    {
        EndReason.CLIENT_CLOSED,
        EndReason.STOPPED,
        EndReason.IDLE,
        EndReason.MAX_DURATION,
        EndReason.RESUME_EXPIRED,
    }
)
# Transient closes: the browser reconnects with backoff. 1005/1006 (no close frame: a dropped
# network) and 1012/1014 (a restarting server, a bad gateway) come from the network or proxies.
RETRYABLE_CLOSE_CODES = frozenset(
    {CloseCode.GOING_AWAY, 1005, 1006, CloseCode.INTERNAL_ERROR, 1012, CloseCode.TRY_AGAIN_LATER,
     1014}
)  # fmt: skip
# The close code for a session that ended for each reason (NORMAL for the others). Keyed by the
# plain string too: an operator's stop may carry a reason of its own.
CLOSE_CODE_FOR_END: dict[str, CloseCode] = {
    EndReason.UPSTREAM_ERROR: CloseCode.INTERNAL_ERROR,
    EndReason.ERROR: CloseCode.INTERNAL_ERROR,
    EndReason.SHUTDOWN: CloseCode.GOING_AWAY,
}
