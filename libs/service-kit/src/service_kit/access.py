"""Who may call a service: one token rule and one origin rule for every service.

- **Token.** When the stack sets `GATEWAY_TOKEN`, a caller presents it as `Authorization:
  Bearer <token>` (the scheme in any case, as HTTP says) or, on a WebSocket, as `?token=`
  (browsers cannot set headers there). It is compared in constant time.
- **Origin.** When `GATEWAY_ALLOWED_ORIGINS` is set, a request whose `Origin` is not listed is
  refused. A request without an `Origin` passes: browsers always send one on WebSocket
  handshakes and cross-site requests, so its absence means a program (curl, Prometheus, a
  script), which the token guards. The check stops other sites open in the user's browser.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from pydantic import SecretStr

# A token longer than this is not ours; comparing it would only cost time.
MAX_TOKEN_CHARS = 1024
REQUIRED_DETAIL = "a valid token is required (Authorization: Bearer <token>)"


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


def offered_token(query_token: str | None, authorization: str | None) -> str | None:
    """What a WebSocket client offers: `?token=` first, else the header's bearer token."""
    return query_token or bearer_token(authorization)


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """True with no list set, with no `Origin` (not a browser), or for a listed origin."""
    return not allowed or origin is None or origin in allowed
