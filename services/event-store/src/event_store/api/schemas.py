"""Request bodies, validated and bounded."""

import json
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

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


def _iso_text(value: object) -> object:
    # The OpenAPI says an ISO 8601 string; pydantic would also take a number as Unix seconds,
    # so a client's mistake (milliseconds, say) would be stored as a wrong date instead.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    return value


# An ISO 8601 date-time with a time zone, as text.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


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
    timestamp: Timestamp | None = None
