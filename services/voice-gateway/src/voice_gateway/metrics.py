"""Prometheus metrics of the voice-gateway."""

from prometheus_client import Counter, Gauge, Histogram

from service_kit.outbox import OutboxMetrics

EVENTS = OutboxMetrics.named("gateway")  # gateway_events_{published_total,dropped_total,buffered}

SESSIONS_ACTIVE = Gauge("gateway_sessions_active", "Voice sessions open on this replica")
SESSIONS_ENDED = Counter("gateway_sessions_total", "Sessions ended, by reason", ["reason"])
SESSIONS_REFUSED = Counter(
    "gateway_sessions_refused_total", "Connections refused before a session started", ["reason"]
)
SESSIONS_DETACHED = Counter(
    "gateway_sessions_detached_total",
    "Connections lost without a normal close, their sessions left waiting for a resume",
)
SESSIONS_RESUMED = Counter(
    "gateway_sessions_resumed_total", "Sessions carried on over a new connection"
)
DEVICES_JOINED = Counter(
    "gateway_devices_joined_total", "Devices that joined a live session, by role", ["role"]
)
DEVICES_LEFT = Counter(
    "gateway_devices_left_total",
    "Devices that left a session others went on with (joined ones, or its own)",
)
RESUME_GAP_SECONDS = Histogram(
    "gateway_resume_gap_seconds",
    "From a session's connection lost to its resume",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60),
)
TOOL_DISPATCH_SECONDS = Histogram(
    "gateway_tool_dispatch_seconds",
    "Tool call dispatch to result",
    ["tool"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("gateway_errors_total", "Errors by kind", ["kind"])

AUDIO_FRAMES = Counter("gateway_audio_frames_total", "Audio frames, by direction", ["direction"])
AUDIO_BYTES = Counter("gateway_audio_bytes_total", "PCM16 audio bytes, by direction", ["direction"])
_LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)
VOICE_LATENCY_SECONDS = Histogram(
    "gateway_voice_latency_seconds",
    "End of the user's speech (last voiced frame in) to the first assistant audio out",
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_FIRST_BYTE_SECONDS = Histogram(
    "gateway_upstream_first_byte_seconds",
    "The brain's end of turn to its first audio",
    buckets=_LATENCY_BUCKETS,
)
TURN_STAGE_SECONDS = Histogram(
    "gateway_turn_stage_seconds",
    "Where a turn's latency goes: end_of_turn_wait, speech_recognition, brain, "
    "speech_synthesis_first_byte",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, *_LATENCY_BUCKETS),
)
EARLY_DECODES = Counter(
    "gateway_early_decodes_total",
    "Decodes started at the user's first short pause (local brain), by stage and outcome: "
    "started, used (the turn's answer) or dropped (the user went on, or the result was not kept)",
    ["stage", "outcome"],
)
SPECULATIVE_ANSWERS = Counter(
    "gateway_speculative_answers_total",
    "Answers the local brain's LLM started before the turn was sure to be over, by outcome: "
    "started, confirmed (the turn ended on the same words: the answer was spoken) or withdrawn "
    "(the user went on, the words changed, or the turn ended otherwise: answered anew)",
    ["outcome"],
)
ASYNCIO_TASKS = Gauge(
    "gateway_asyncio_tasks", "Asyncio tasks alive in this process (leaks show as growth)"
)
MEMORY_TRIM_SECONDS = Histogram(
    "gateway_memory_trim_seconds",
    "Giving freed memory back to the system after sessions end (memory.py)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)

# What listeners heard, as their clients measured it where the audio plays (`client_stats`).
CLIENT_MOUTH_TO_EAR_SECONDS = Histogram(
    "gateway_client_mouth_to_ear_seconds",
    "The user's last voiced microphone sample to the first assistant sample played, per turn",
    buckets=_LATENCY_BUCKETS,
)
CLIENT_UNDERRUN_SECONDS = Histogram(
    "gateway_client_underrun_seconds",
    "Silence the client's player inserted inside one assistant turn, waiting for audio",
    buckets=(0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
CLIENT_UNDERRUNS = Counter(
    "gateway_client_underruns_total", "Times a client's player ran dry inside an assistant turn"
)
CLIENT_PLAYED_SECONDS = Counter(
    "gateway_client_played_seconds_total", "Assistant audio clients report having played"
)
CLIENT_JITTER_BUFFER_SECONDS = Histogram(
    "gateway_client_jitter_buffer_seconds",
    "The client's jitter-buffer depth at the end of each assistant turn",
    buckets=(0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5),
)
RECORDING_CHUNKS_DROPPED = Counter(
    "gateway_recording_chunks_dropped_total",
    "Recording chunks not kept by the event-store (the recording has a silent gap there), by why:"
    " queue_full (the store is slower than the audio), unavailable (unreachable, 5xx, a full"
    " disk), refused (the recording is gone or finished), not_started (the store never answered)",
    ["reason"],
)
