"""Settings, from the environment (prefix EVENT_STORE_; REDIS_URL is shared with the stack)."""

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EVENT_STORE_",
        extra="ignore",
        # `KEY=` in an .env file (or compose passing an unset variable) means "not set".
        env_ignore_empty=True,
    )

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("EVENT_STORE_REDIS_URL", "REDIS_URL"),
    )
    db_path: Path = Path("data/event-store/events.db")
    host: str = "127.0.0.1"
    # 8000 belongs to the agentic backend on the same Jetson.
    port: int = Field(default=8091, ge=1, le=65535)

    # A stable name per replica, so a restarted process first re-reads what it left pending.
    consumer_name: str = Field(default_factory=socket.gethostname, pattern=r"^[\w.:-]{1,64}$")
    batch_max: int = Field(default=2000, ge=1, le=20_000)
    block_ms: int = Field(default=200, ge=1, le=10_000)
    # Entries another consumer left pending this long are presumed orphaned and reclaimed.
    claim_idle_ms: int = Field(default=30_000, ge=100)
    # FULL fsyncs every commit (durable across power loss); batching keeps that cheap.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Writes stop (entries wait in Redis, readiness says "disk full") while the database's
    # disk has less than this free: room is left for Redis's append-only file and the logs.
    min_free_mb: int = Field(default=64, ge=0, le=1_000_000)
    # Session recordings (beside the database, in `recordings/`): the oldest finished ones are
    # deleted first once they take more than this much disk, and any older than this many days.
    recordings_max_mb: int = Field(default=2048, ge=1, le=10_000_000)
    recordings_max_days: float = Field(default=30, gt=0, le=36_500)

    # The stack's one shared secret (the gateway's variable, so one value protects both): when
    # set, every route but health and metrics needs `Authorization: Bearer <token>` (the live
    # stream also takes `?token=`). Empty means unset, as compose passes `${GATEWAY_TOKEN:-}`.
    token: SecretStr | None = Field(default=None, validation_alias="GATEWAY_TOKEN")
    # The gateway's list too: browsers send any site's requests (and WebSockets) with the
    # user's network access; when set, requests from other `Origin`s are refused (403/1008).
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="GATEWAY_ALLOWED_ORIGINS"
    )

    page_max: int = Field(default=1000, ge=1, le=10_000)
    body_max_bytes: int = Field(default=512 * 1024, ge=1024)
    log_json: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value
