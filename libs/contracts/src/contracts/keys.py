"""Names of every Redis stream, channel and key that crosses a service boundary.

One module, so that a producer and its consumer can never disagree about a name.
"""

PREFIX = "av"

# Conversation events: every producer XADDs here; the event-store consumes with a group.
EVENTS_STREAM = f"{PREFIX}:events"
EVENTS_STREAM_FIELD = "event"
EVENT_STORE_GROUP = "event-store"
# The backlog cap, in entries (env EVENTS_BACKLOG_MAX): producers append only while the stream
# holds fewer, and never trim it; the event-store trims what it has persisted. At about 300 bytes
# of Redis memory per real event, 100,000 is about 30 MB, well under Redis's maxmemory.
EVENTS_BACKLOG_MAX = 100_000

# arq queue for tool jobs (voice-gateway -> tool-worker). Job arguments are JSON, not pickle.
TOOL_QUEUE = f"{PREFIX}:tools"
TOOL_FUNCTION = "run_tool"
# The caller LPUSHes here after enqueueing; an idle worker BLPOPs it and picks the job up at once
# instead of waiting for its next poll.
TOOL_WAKE_KEY = f"{PREFIX}:tools:wake"
TOOL_RESULT_PATTERN = f"{PREFIX}:tool-result:*"


def agentic_owner_key(conversation_id: str) -> str:
    """Which worker process holds this conversation's backend sockets (one per conversation)."""
    return f"{PREFIX}:agentic-owner:{conversation_id}"


def worker_channel(worker_id: str) -> str:
    """Where jobs for conversations owned by `worker_id` are forwarded by other workers."""
    return f"{PREFIX}:worker:{worker_id}"


def live_events_channel(conversation_id: str) -> str:
    """Pub/sub channel where live events of one conversation are published (worker -> gateway)."""
    return f"{PREFIX}:live:{conversation_id}"


def tool_result_channel(call_id: str) -> str:
    """Pub/sub channel on which a tool's result is pushed the moment it is ready."""
    return f"{PREFIX}:tool-result:{call_id}"


SESSIONS_KEY = f"{PREFIX}:sessions"


def session_key(session_id: str) -> str:
    """Hash describing one live voice session (registry shared by gateway replicas)."""
    return f"{PREFIX}:session:{session_id}"


def session_relay_channel(session_id: str) -> str:
    """Where a gateway process asks the one holding a session to resume it over a relayed
    connection (voice_gateway/sessions/relay.py)."""
    return f"{PREFIX}:session-relay:{session_id}"


def relay_channel(relay_id: str, direction: str) -> str:
    """One direction (`to-session`, `to-client`) of a relayed connection's frames."""
    return f"{PREFIX}:relay:{relay_id}:{direction}"


def session_control_channel(session_id: str) -> str:
    """Channel a gateway replica listens on to be told to stop one of its sessions."""
    return f"{PREFIX}:session-control:{session_id}"


# Session tickets (contracts/tickets.py): one key per ticket, named by a hash of the ticket so
# that a key seen in Redis (a MONITOR, a slow log, the append-only file) cannot be redeemed.
TICKET_KEY_PREFIX = f"{PREFIX}:ticket:"


def ticket_key(ticket_digest: str) -> str:
    """Where the ticket whose SHA-256 is `ticket_digest` (hex) is kept until redeemed."""
    return f"{TICKET_KEY_PREFIX}{ticket_digest}"
