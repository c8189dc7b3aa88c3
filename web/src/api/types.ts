/** The event-store's JSON shapes (services/event-store/src/event_store/models.py; checked against
 * it by tests/ops/test_web_types_match_models.py). */

export interface StoredEvent {
  id: number; // row id, the paging cursor (`after`)
  event_id: string;
  conversation_id: string;
  timestamp: string;
  source: string;
  type: string;
  payload: Record<string, unknown>;
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
