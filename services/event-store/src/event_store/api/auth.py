"""The shared token (`GATEWAY_TOKEN`): required on the API when it is set (the rule is
service_kit.access's, as in every service; the live stream applies that module's socket rule
itself, in api/stream.py: a ticket or the header).

Health, readiness and metrics stay open: nginx does not expose them, and Prometheus scrapes
them on the internal network.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from event_store.settings import Settings
from service_kit.access import REQUIRED_DETAIL, token_matches

# auto_error=False: a missing or malformed header is answered below, with 401 and a detail.
_bearer = HTTPBearer(auto_error=False, description="GATEWAY_TOKEN, when the stack sets one")


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
        raise HTTPException(401, REQUIRED_DETAIL, headers={"WWW-Authenticate": "Bearer"})
