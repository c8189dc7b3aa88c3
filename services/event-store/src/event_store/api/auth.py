"""The shared token (`GATEWAY_TOKEN`): required on the API and the live stream when it is set.

Health, readiness and metrics stay open: nginx does not expose them, and Prometheus scrapes
them on the internal network.
"""

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from event_store.settings import Settings

REQUIRED = "a valid token is required (Authorization: Bearer <token>)"
# A token longer than this is not ours; comparing it would only cost time.
MAX_TOKEN_CHARS = 1024

# auto_error=False: a missing or malformed header is answered below, with 401 and a detail.
_bearer = HTTPBearer(auto_error=False, description="GATEWAY_TOKEN, when the stack sets one")


def token_matches(expected: SecretStr | None, given: str | None) -> bool:
    """True when no token is configured, or `given` is it (compared in constant time)."""
    if expected is None:
        return True
    if not given or len(given) > MAX_TOKEN_CHARS:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Router dependency: 401 unless the request carries the configured token."""
    given = credentials.credentials if credentials is not None else None
    if not token_matches(_settings(request).token, given):
        raise HTTPException(401, REQUIRED, headers={"WWW-Authenticate": "Bearer"})


def websocket_token(websocket: WebSocket) -> str | None:
    """What a WebSocket client offers: `?token=` (browsers cannot set headers) or the header."""
    token = websocket.query_params.get("token")
    if token:
        return token
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
