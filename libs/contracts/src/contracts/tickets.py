"""Session tickets: what a browser exchanges its token for before opening a socket.

Browsers cannot set headers on a WebSocket, so a socket's credential has to travel in its URL,
where proxies and servers log it. A ticket is what travels instead: asked for with the token in
an `Authorization: Bearer` header, good once, for one conversation and one socket (`purpose`),
for a few seconds. Issued by the voice-gateway, redeemed by whichever service the socket reaches
(the gateway's voice socket, the event-store's live stream), through the Redis both share.
`TicketPurpose` is generated into web/src/protocol/vocabulary.ts (scripts/gen_web_vocabulary.py).
"""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.ids import ConversationId

# A ticket as issued (`secrets.token_urlsafe`); anything else offered is refused unread.
TICKET_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"
TICKET_MAX_LENGTH = 128


class TicketPurpose(StrEnum):
    """Which socket a ticket opens."""

    VOICE = "voice"  # the gateway's voice socket
    EVENTS = "events"  # the event-store's live stream of a conversation


class TicketRequest(BaseModel):
    """`POST /api/realtime/pipecat/tickets`'s body."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId
    purpose: TicketPurpose


class TicketGrant(BaseModel):
    """The answer: the ticket, for `?ticket=` on the socket's URL, and how long it is good for."""

    ticket: str
    expires_in_s: float = Field(gt=0)
