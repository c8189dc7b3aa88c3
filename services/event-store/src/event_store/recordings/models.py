"""A recording's row as the API returns it (web/src/api/types.ts mirrors it)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

RecordingState = Literal["recording", "finished"]


class Recording(BaseModel):
    id: str
    conversation_id: str
    session_id: str | None
    # The gateway's wall clock when the recording's first sample was due: the clock of the
    # events' timestamps, so `started_at + t` is when the audio at `t` seconds was heard.
    started_at: datetime
    finished_at: datetime | None
    duration_s: float
    bytes: int  # on disk: the raw audio so far while recording, the FLAC file once finished
    format: str  # what GET .../recordings/{id} serves once finished
    sample_rate: int
    channels: int  # 2: left the user, right the assistant
    state: RecordingState
