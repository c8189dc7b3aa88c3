"""The event-store's recording routes, as the gateway calls them (with GATEWAY_TOKEN when the
stack sets one)."""

from datetime import datetime

import httpx
from pydantic import SecretStr

TIMEOUT_S = 5.0
# Finishing encodes the whole recording to FLAC: seconds for an hour on a small board.
FINISH_TIMEOUT_S = 30.0


class RecordingRefused(Exception):
    """The store will not take more of this recording (it is gone, or finished): stop."""


class StoreUnavailable(Exception):
    """Unreachable, timed out, or failing (5xx, a full disk): this call is lost, later ones may
    go through."""


class RecordingStoreClient:
    def __init__(
        self,
        base_url: str,
        token: SecretStr | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=TIMEOUT_S, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start(self, conversation_id: str, session_id: str, started_at: datetime) -> str:
        """A new recording's id."""
        response = await self._call(
            "POST",
            f"{_base(conversation_id)}",
            json={"session_id": session_id, "started_at": started_at.isoformat()},
        )
        recording_id: str = response.json()["id"]
        return recording_id

    async def append(
        self, conversation_id: str, recording_id: str, offset: int, stereo: bytes
    ) -> None:
        await self._call(
            "POST",
            f"{_base(conversation_id)}/{recording_id}/chunks",
            params={"offset": offset},
            content=stereo,
            headers={"Content-Type": "application/octet-stream"},
        )

    async def finish(self, conversation_id: str, recording_id: str) -> None:
        await self._call(
            "POST", f"{_base(conversation_id)}/{recording_id}/finish", timeout=FINISH_TIMEOUT_S
        )

    async def _call(self, method: str, url: str, **options: object) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **options)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise StoreUnavailable(f"{response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            raise RecordingRefused(f"{response.status_code} {response.text[:200]}")
        return response


def _base(conversation_id: str) -> str:
    return f"/api/realtime/conversations/{conversation_id}/recordings"
