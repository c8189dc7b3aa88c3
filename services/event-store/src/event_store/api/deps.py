"""Dependencies shared by the routes: the services built in the lifespan, and validated ids."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, WebSocket
from redis.asyncio import Redis

from contracts.ids import CONVERSATION_ID_MAX_LENGTH, CONVERSATION_ID_PATTERN
from event_store.disk_space import DiskSpace
from event_store.hub import EventHub
from event_store.ingest import StreamIngestor
from event_store.models import ConversationSummary
from event_store.repository import Repository
from event_store.settings import Settings
from event_store.writer import EventWriter


@dataclass(frozen=True)
class Services:
    settings: Settings
    repo: Repository
    hub: EventHub
    writer: EventWriter
    ingestor: StreamIngestor
    redis: Redis  # the live stream redeems its tickets here
    space: DiskSpace


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _ws_services(websocket: WebSocket) -> Services:
    services: Services = websocket.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
WsServicesDep = Annotated[Services, Depends(_ws_services)]


def _repo(services: ServicesDep) -> Repository:
    return services.repo


RepoDep = Annotated[Repository, Depends(_repo)]

# SQLite's largest INTEGER: a larger `after` does not fit a query parameter.
ROW_ID_MAX = 2**63 - 1
After = Annotated[
    int | None, Query(ge=0, le=ROW_ID_MAX, description="Only entries with a larger row id")
]

ConversationIdPath = Annotated[
    str,
    Path(
        pattern=CONVERSATION_ID_PATTERN,
        max_length=CONVERSATION_ID_MAX_LENGTH,
        description="Letters, digits and `_ . : -`, at most 128 characters",
    ),
]


async def _existing_conversation(
    conversation_id: ConversationIdPath, repo: RepoDep
) -> ConversationSummary:
    conversation = await repo.get_conversation(conversation_id)
    if conversation is None:
        raise HTTPException(404, f"conversation {conversation_id!r} not found")
    return conversation


ConversationDep = Annotated[ConversationSummary, Depends(_existing_conversation)]
