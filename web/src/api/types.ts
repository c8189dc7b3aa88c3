/** The event-store's JSON shapes (services/event-store/src/event_store/models.py; checked against
 * it by tests/ops/test_web_types_match_models.py). */
import type { ProgressKind } from "../protocol/vocabulary";

export interface StoredEvent {
  id: number; // row id, the paging cursor (`after`)
  event_id: string;
  conversation_id: string;
  timestamp: string;
  source: string;
  type: string;
  payload: Record<string, unknown>;
}

/** One step of a team or Claude Code run, attached by the tool-worker to a stored event's
 * `payload.progress` (libs/contracts/src/contracts/progress.py). */
export interface RunProgress {
  kind: ProgressKind;
  actor: string;
  text: string;
  line: string;
  finished: boolean;
}

export interface ConversationSummary {
  id: string;
  name: string | null;
  created_at: string;
  updated_at: string;
  voice_model: string | null;
  metadata: Record<string, unknown>;
  event_count: number;
}

export interface ConversationDetail extends ConversationSummary {
  events: StoredEvent[];
}

/** One recorded voice session (services/event-store/src/event_store/recordings/models.py):
 * stereo, left the user and right the assistant. `started_at` is on the clock of the events'
 * timestamps, so the audio at `t` seconds was heard at `started_at + t`. */
export interface Recording {
  id: string;
  conversation_id: string;
  session_id: string | null;
  started_at: string;
  finished_at: string | null;
  duration_s: number;
  bytes: number; // on disk: raw audio so far while recording, the FLAC file once finished
  format: string;
  sample_rate: number;
  channels: number;
  state: "recording" | "finished";
}
