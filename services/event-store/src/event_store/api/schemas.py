"""Request bodies, validated and bounded."""

import json
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from contracts.events import SourceName, TypeName
from contracts.ids import ConversationId, EventId

MAX_METADATA_BYTES = 16 * 1024
MAX_PAYLOAD_BYTES = 256 * 1024


def _bounded(limit: int) -> AfterValidator:
    def check(value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value))
        if size > limit:
            raise ValueError(f"is {size} bytes as JSON, more than {limit}")
        return value

    return AfterValidator(check)


Metadata = Annotated[dict[str, Any], _bounded(MAX_METADATA_BYTES)]
Payload = Annotated[dict[str, Any], _bounded(MAX_PAYLOAD_BYTES)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: ConversationId | None = Field(default=None, description="Chosen by the server if absent")
    name: Name | None = None
    voice_model: Annotated[str, Field(max_length=64)] | None = None
    metadata: Metadata = Field(default_factory=dict)


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    metadata: Metadata | None = None


class EventAppend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: EventId | None = Field(default=None, description="Idempotency key; generated if absent")
    source: SourceName
    type: TypeName
    payload: Payload = Field(default_factory=dict)
    timestamp: AwareDatetime | None = None
