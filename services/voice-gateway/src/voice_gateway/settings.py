"""Settings, from the environment (prefix GATEWAY_; shared names such as REDIS_URL,
OPENAI_API_KEY and EVENTS_BACKLOG_MAX are read as they are)."""

import socket
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts.keys import EVENTS_BACKLOG_MAX
from service_kit.tickets import DEFAULT_TTL_S


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        extra="ignore",
        # `KEY=` in an .env file (or compose passing an unset variable) means "not set".
        env_ignore_empty=True,
    )

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL"),
    )
    host: str = "127.0.0.1"
    # 8000 belongs to the agentic backend on the same Jetson.
    port: int = Field(default=8090, ge=1, le=65535)
    # Processes sharing the port: one event loop each (see server.py).
    workers: int = Field(default=1, ge=1, le=16)
    replica: str = Field(default_factory=socket.gethostname, pattern=r"^[\w.:-]{1,64}$")

    # Which brain: "openai" (Realtime, cloud) when a key is set, else "local".
    brain: Literal["openai", "local"] | None = Field(
        default=None, validation_alias=AliasChoices("VOICE_BRAIN", "GATEWAY_BRAIN")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "GATEWAY_OPENAI_API_KEY")
    )
    openai_realtime_url: str = Field(
        default="wss://api.openai.com/v1/realtime",
        validation_alias=AliasChoices("OPENAI_REALTIME_URL", "GATEWAY_OPENAI_REALTIME_URL"),
        pattern=r"^wss?://",
    )
    # An upstream that connects but has not set the session up by then has failed.
    upstream_ready_timeout_s: float = Field(default=10, gt=0, le=120)
    # An upstream that owes an answer (a committed turn, a requested response) and sends
    # nothing for this long has stalled: the session ends so the client reconnects.
    upstream_stall_timeout_s: float = Field(default=15, gt=0, le=300)
    openai_model: str | None = Field(default=None, pattern=r"^[\w.-]{1,64}$")  # None: Pipecat's
    # RNNoise on the microphone, for either brain; off: it cost recognition (docs/benchmarks.md).
    noise_filter: Literal["off", "rnnoise"] = "off"

    # The local brain (the `local` extra). Unset directories: the models its packages ship.
    whisper_model_dir: Path | None = None
    whisper_device: Literal["cpu", "cuda", "auto"] = "cpu"
    # "speech": each clip on a window its own size (a quarter of the time on a CPU);
    # "full": Whisper's 30 s window for every clip (its training shape, slower).
    whisper_window: Literal["speech", "full"] = "speech"
    # Whisper's beam. Two, not faster-whisper's five: a third of the time after the user stops,
    # and as many words right on the bench's utterances; one (greedy) is faster still but heard
    # more wrong (docs/benchmarks.md, voice_latency).
    whisper_beam_size: int = Field(default=2, ge=1, le=10)
    # Start recognising at the user's first short pause, before the VAD calls the end of speech.
    early_recognition: bool = True
    # With an LLM: start it on the words heard at a pause, before the turn is sure to be over;
    # its answer (tool calls too) is held until the turn ends, dropped if the user goes on.
    speculative_answers: bool = True
    piper_voice_dir: Path | None = None
    # No generator noise: each text always sounds the same (tests; a flatter voice).
    piper_deterministic: bool = False
    piper_voice: str = Field(default="en_US-joe-medium", pattern=r"^[\w.-]{1,64}$")
    # Silence after which a turn ends even when smart-turn thinks the user is not done.
    turn_stop_timeout_s: float = Field(default=1.2, gt=0, le=10)
    # Silence after which the VAD calls the end of speech and smart-turn judges the turn
    # (Pipecat's default 0.2). Shorter answers sooner but splits speech at shorter pauses.
    vad_stop_s: float = Field(default=0.2, ge=0.05, le=2)
    # An OpenAI-compatible chat server (Ollama, llama.cpp, vLLM); unset: the command router.
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LLM_BASE_URL", "GATEWAY_LLM_BASE_URL"),
        pattern=r"^https?://",
    )
    llm_model: str = Field(
        default="llama3.2", validation_alias=AliasChoices("LLM_MODEL", "GATEWAY_LLM_MODEL")
    )
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LLM_API_KEY", "GATEWAY_LLM_API_KEY")
    )

    # What the local brain says when a session starts, so the user knows it is listening
    # (GATEWAY_GREET=false: nothing). The Realtime model greets in its own words, as its
    # instructions (the system prompt) ask.
    greet: bool = True
    greeting: str = Field(
        default="Hello. What should I pass on to the team or to Claude Code?",
        min_length=1,
        max_length=300,
    )

    default_voice: str = Field(default="alloy", pattern=r"^[a-z_]{1,32}$")
    default_agent_name: str = Field(default="MainConversation", pattern=r"^\w{1,64}$")
    default_system_prompt: str = (
        "You are the voice of an agent team. Be brief. Hand work to the team with "
        "send_to_nested, or to Claude Code with send_to_claude_code."
    )

    # Access: a shared secret (`Authorization: Bearer`) and allowed origins.
    token: SecretStr | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # How long a socket ticket (asked for with the token, used in the socket's URL instead of
    # it) stays good: long enough for a slow network's round trip, short enough to be worthless
    # to whoever reads it in a log later.
    ticket_ttl_s: float = Field(default=DEFAULT_TTL_S, gt=0, le=300)

    # Sessions and limits.
    idle_timeout_s: float = Field(default=300, gt=0)
    max_duration_s: float = Field(default=3600, gt=0)
    # A dropped connection (no normal close) leaves its session waiting this long for the
    # client to resume it (transport/resumable_socket.py); 0 ends it at once.
    resume_s: float = Field(default=30, ge=0, le=600)
    # What a session keeps of what it sent, to send again on a resume: 40 s of its audio
    # (24 kHz PCM16) by default. A longer gap resumes with the oldest part skipped.
    resume_replay_bytes: int = Field(default=40 * 48_000, ge=64 * 1024, le=64 * 1024 * 1024)
    max_sessions: int = Field(default=50, ge=1)
    max_sessions_per_address: int = Field(default=4, ge=1)
    connections_per_minute_per_address: int = Field(default=30, ge=1)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    max_frames_per_second: float = Field(default=100, gt=0)
    # A client that takes nothing from its socket for this long has stopped reading: its
    # session ends and the connection is dropped (uvicorn_adapter.py).
    client_send_timeout_s: float = Field(default=10, gt=0, le=120)
    # The kernel's send buffer per client socket (autotuning would let it reach 4 MiB).
    client_send_buffer_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=4 * 1024 * 1024)

    tool_deadline_s: float = Field(default=10, gt=0, le=300)
    # Recordings (recordings/): both directions of a session, kept by the event-store. Off unless
    # this says on; a session's `record=1|0` overrides it.
    record_default: bool = False
    event_store_url: str = Field(
        default="http://127.0.0.1:8091",
        validation_alias=AliasChoices("GATEWAY_EVENT_STORE_URL", "EVENT_STORE_URL"),
        pattern=r"^https?://",
    )
    event_buffer_max: int = Field(default=10_000, ge=100)
    # The events stream's cap, shared with the tool-worker (service_kit/outbox.py).
    events_backlog_max: int = Field(
        default=EVENTS_BACKLOG_MAX,
        ge=1,
        validation_alias=AliasChoices("EVENTS_BACKLOG_MAX", "GATEWAY_EVENTS_BACKLOG_MAX"),
    )

    log_json: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        origins = data.get("allowed_origins")
        if isinstance(origins, str):
            data["allowed_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _choose_brain(self) -> Self:
        if self.brain is None:
            self.brain = "openai" if self.openai_api_key else "local"
        if self.brain == "openai" and not self.openai_api_key:
            raise ValueError("VOICE_BRAIN=openai needs OPENAI_API_KEY")
        return self
