"""Session tickets in Redis: issued for a conversation and a socket, redeemed once, soon gone.

Why tickets at all: contracts/tickets.py. The ticket itself is never a Redis key: the key is a
SHA-256 of it (contracts.keys.ticket_key), so what Redis shows or persists cannot be redeemed.
A redeemed ticket's key is not deleted but marked, for the rest of its life, so that a replay
is told "already used" rather than "unknown" (the one bug a client reusing tickets would have).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from pydantic import ValidationError
from redis.asyncio import Redis

from contracts.keys import ticket_key
from contracts.tickets import (
    TICKET_MAX_LENGTH,
    TICKET_PATTERN,
    TicketGrant,
    TicketPurpose,
    TicketRequest,
)

DEFAULT_TTL_S = 30.0
_TICKET = re.compile(TICKET_PATTERN)
_REDEEMED = b"redeemed"  # never a ticket's JSON


class TicketRefused(Exception):
    """A ticket that opens nothing; `reason` says why, in words for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redis_key(ticket: str) -> str:
    """The key a ticket is kept under: named by its hash, never by the ticket."""
    return ticket_key(hashlib.sha256(ticket.encode()).hexdigest())


async def issue_ticket(
    redis: Redis,
    conversation_id: str,
    purpose: TicketPurpose | str,
    *,
    ttl_s: float = DEFAULT_TTL_S,
) -> TicketGrant:
    """A new ticket for one `purpose` socket of `conversation_id`, good once within `ttl_s`.
    A bad id or purpose raises pydantic's ValidationError, a bad `ttl_s` ValueError."""
    if not ttl_s > 0:
        raise ValueError(f"a ticket's time to live must be positive, not {ttl_s!r}")
    binding = TicketRequest.model_validate({"conversation_id": conversation_id, "purpose": purpose})
    ticket = secrets.token_urlsafe(32)  # 256 random bits
    # PX: the TTL may be under a second (tests); NX: a clash of 256-bit values never overwrites.
    await redis.set(
        redis_key(ticket), binding.model_dump_json(), px=max(1, round(ttl_s * 1000)), nx=True
    )
    return TicketGrant(ticket=ticket, expires_in_s=ttl_s)


async def redeem_ticket(
    redis: Redis, ticket: str, *, conversation_id: str, purpose: TicketPurpose
) -> None:
    """Use `ticket` up, or raise `TicketRefused`. Presented anywhere, even for the wrong
    conversation or socket, a ticket is used up: whoever holds it has shown it once."""
    if len(ticket) > TICKET_MAX_LENGTH or not _TICKET.fullmatch(ticket):
        raise TicketRefused("the ticket is malformed")
    # One atomic command: the old value back, the key marked as redeemed (only if it exists,
    # keeping its expiry), so two sockets racing with one ticket cannot both get it.
    held: bytes | str | None = await redis.set(
        redis_key(ticket), _REDEEMED, xx=True, keepttl=True, get=True
    )
    if isinstance(held, str):  # a client made with decode_responses=True
        held = held.encode()
    if held is None:
        raise TicketRefused("the ticket is unknown or has expired; ask for a new one")
    if held == _REDEEMED:
        raise TicketRefused("the ticket was already used; ask for a new one")
    try:
        binding = TicketRequest.model_validate_json(held)
    except ValidationError:
        raise TicketRefused("the ticket is unknown or has expired; ask for a new one") from None
    if binding.purpose != purpose:
        raise TicketRefused(f"the ticket is for the {binding.purpose} socket, not {purpose}")
    if binding.conversation_id != conversation_id:
        raise TicketRefused("the ticket is for another conversation")
