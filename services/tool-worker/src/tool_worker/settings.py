"""Settings, from the environment (prefix TOOL_WORKER_; REDIS_URL, AGENTIC_WS_URL and
EVENTS_BACKLOG_MAX are shared)."""

import os
import socket
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.keys import EVENTS_BACKLOG_MAX


def _worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOOL_WORKER_",
        extra="ignore",
        # `KEY=` in an .env file (or compose passing an unset variable) means "not set".
        env_ignore_empty=True,
    )

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("TOOL_WORKER_REDIS_URL", "REDIS_URL"),
    )
    agentic_ws_url: str = Field(
        default="ws://localhost:8000",
        validation_alias=AliasChoices("AGENTIC_WS_URL", "TOOL_WORKER_AGENTIC_WS_URL"),
        pattern=r"^wss?://[^/\s]+(/[^\s]*)?$",
    )
    team_agent_name: str = Field(
        default="MainConversation",
        validation_alias=AliasChoices("TEAM_AGENT_NAME", "TOOL_WORKER_TEAM_AGENT_NAME"),
        pattern=r"^\w{1,64}$",
    )
    host: str = "127.0.0.1"
    # 8000 belongs to the agentic backend on the same Jetson.
    port: int = Field(default=8092, ge=1, le=65535)
    worker_id: str = Field(default_factory=_worker_id, pattern=r"^[\w.:-]{1,80}$")

    connect_timeout_s: float = Field(default=5.0, gt=0)
    # A live worker refreshes its claim on a conversation's sockets well within this.
    owner_ttl_s: float = Field(default=10.0, gt=1)
    max_jobs: int = Field(default=50, ge=1)
    # Fallback poll when no wake-up arrives (callers push one after every enqueue).
    poll_delay_s: float = Field(default=0.5, gt=0)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # A run with no message from the backend for this long has hung: its socket is closed
    # (the run ends as disconnected, the user hears so) and the next call opens a fresh one.
    run_quiet_timeout_s: float = Field(default=600.0, gt=0)
    # The events stream's cap, shared with the voice-gateway (service_kit/outbox.py).
    events_backlog_max: int = Field(
        default=EVENTS_BACKLOG_MAX,
        ge=1,
        validation_alias=AliasChoices("EVENTS_BACKLOG_MAX", "TOOL_WORKER_EVENTS_BACKLOG_MAX"),
    )

    log_json: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
