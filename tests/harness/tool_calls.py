"""Calling tools as the voice-gateway does, and reading back the events they produced."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import RedisSettings, create_pool
from redis.asyncio import Redis

from contracts import ConversationEvent, ToolJob, ToolName, new_event_id
from contracts.keys import EVENTS_STREAM
from voice_gateway.tools.dispatch import ToolDispatcher, encode_job


@asynccontextmanager
async def dispatcher(redis_url: str) -> AsyncIterator[ToolDispatcher]:
    redis = Redis.from_url(redis_url)
    arq = await create_pool(
        RedisSettings.from_dsn(redis_url), job_serializer=encode_job, job_deserializer=json.loads
    )
    tools = ToolDispatcher(redis, arq)
    await tools.start()
    try:
        yield tools
    finally:
        await tools.close()
        await arq.aclose()
        await redis.aclose()


def job(
    conversation_id: str, name: ToolName, text: str | None = None, deadline_s: float = 5.0
) -> ToolJob:
    return ToolJob(
        call_id=new_event_id(),
        conversation_id=conversation_id,
        name=name,
        arguments={"text": text} if text is not None else {},
        deadline_s=deadline_s,
    )


async def conversation_events(redis: Redis, conversation_id: str) -> list[ConversationEvent]:
    entries: Any = await redis.xrange(EVENTS_STREAM)
    events = [ConversationEvent.from_stream_fields(fields) for _, fields in entries]
    return [e for e in events if e.conversation_id == conversation_id]
