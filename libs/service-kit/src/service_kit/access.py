"""Who may call a service: one token rule and one origin rule for every service.

- **Token.** When the stack sets `GATEWAY_TOKEN`, a caller presents it as `Authorization:
  Bearer <token>` (the scheme in any case, as HTTP says). It is compared in constant time.
- **Sockets.** Browsers cannot set headers on a WebSocket, and a URL is logged (by nginx, by
  uvicorn), so the token never travels in one: a browser first exchanges it for a ticket
  (service_kit.tickets) and opens the socket with `?ticket=`. Programs may still send the
  header. `?token=` is refused outright, so a client still sending it learns why.
- **Origin.** When `GATEWAY_ALLOWED_ORIGINS` is set, a request whose `Origin` is not listed is
  refused. A request without an `Origin` passes: browsers always send one on WebSocket
  handshakes and cross-site requests, so its absence means a program (curl, Prometheus, a
  script), which the token guards. The check stops other sites open in the user's browser.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError

from contracts.session import CloseCode, RefusalKind
from contracts.tickets import TicketPurpose
from service_kit.tickets import TicketRefused, redeem_ticket

# A token longer than this is not ours; comparing it would only cost time.
MAX_TOKEN_CHARS = 1024
REQUIRED_DETAIL = "a valid token is required (Authorization: Bearer <token>)"
# WebSocket close reasons (at most 123 bytes).
SOCKET_REQUIRED_DETAIL = "a valid ticket (?ticket=) or token (Authorization: Bearer) is required"
TOKEN_IN_URL_DETAIL = (
    "a token in the URL is refused: ask POST /api/realtime/pipecat/tickets for a ticket"  # noqa: S105
)


class SocketRefused(Exception):
    """A WebSocket that may not open: `reason` for the client, `kind` for metrics, `code` to
    close with (POLICY: do not retry; TRY_AGAIN_LATER: the check itself could not run)."""

    def __init__(
        self, reason: str, *, kind: RefusalKind, code: CloseCode = CloseCode.POLICY
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.code = code


def token_matches(expected: SecretStr | None, given: str | None) -> bool:
    """True when no token is configured, or `given` is it (compared in constant time)."""
    if expected is None:
        return True
    if not given or len(given) > MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


async def check_socket_credentials(
    redis: Redis,
    expected: SecretStr | None,
    *,
    authorization: str | None,
    query_token: str | None,
    ticket: str | None,
    conversation_id: str,
    purpose: TicketPurpose,
) -> None:
    """The one rule of every socket, or `SocketRefused`: open when no token is configured;
    else the bearer header's token, or a ticket for this conversation and socket, redeemed."""
    if expected is None:
        return
    if query_token is not None:
        raise SocketRefused(TOKEN_IN_URL_DETAIL, kind=RefusalKind.TOKEN)
    header = bearer_token(authorization)
    if header is not None or ticket is None:
        if not token_matches(expected, header):
            raise SocketRefused(SOCKET_REQUIRED_DETAIL, kind=RefusalKind.TOKEN)
        return
    try:
        await redeem_ticket(redis, ticket, conversation_id=conversation_id, purpose=purpose)
    except TicketRefused as refused:
        raise SocketRefused(refused.reason, kind=RefusalKind.TICKET) from None
    except (RedisError, OSError):
        raise SocketRefused(
            "tickets cannot be checked now; try again",
            kind=RefusalKind.TICKET,
            code=CloseCode.TRY_AGAIN_LATER,
        ) from None


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """True with no list set, with no `Origin` (not a browser), or for a listed origin."""
    return not allowed or origin is None or origin in allowed
