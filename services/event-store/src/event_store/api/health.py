"""Liveness, readiness and metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from event_store.api.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(services: ServicesDep) -> dict[str, str] | JSONResponse:
    """Ready when the stream consumer is connected to Redis and the database's disk has room."""
    if not services.ingestor.connected:
        return JSONResponse({"status": "not ready", "reason": "redis unavailable"}, 503)
    if services.space.full:
        return JSONResponse({"status": "not ready", "reason": "disk full"}, 503)
    return {"status": "ready"}


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
