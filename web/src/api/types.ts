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
