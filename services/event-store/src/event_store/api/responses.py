"""The error answers the API gives, documented in its OpenAPI (so clients and schemathesis
know every status a route may return)."""

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    detail: str


_DESCRIPTIONS = {
    400: "The body is not valid JSON",
    401: "GATEWAY_TOKEN is set and the request lacks it (Authorization: Bearer <token>)",
    404: "No such conversation",
    409: "Already stored (the id is taken)",
    413: "The body is larger than EVENT_STORE_BODY_MAX_BYTES",
    507: "The database's disk is full: nothing was stored; retry once space returns",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route or router: these statuses, each with a `detail`."""
    return {code: {"model": ErrorDetail, "description": _DESCRIPTIONS[code]} for code in codes}


def error(code: int, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` entry for a status whose meaning is the route's own."""
    return {code: {"model": ErrorDetail, "description": description}}


def text_content(*media_types: str, json: bool = False) -> dict[str, Any]:
    """A 200 that comes as text in these media types (and as a JSON object, if `json`)."""
    content: dict[str, Any] = {media: {"schema": {"type": "string"}} for media in media_types}
    if json:
        content["application/json"] = {"schema": {"type": "object"}}
    return {"content": content}


async def disk_full_answer(request: Request, exc: Exception) -> JSONResponse:
    """Any write refused for a full disk (`DiskFullError`): 507, nothing stored."""
    return JSONResponse({"detail": _DESCRIPTIONS[507]}, status_code=507)
