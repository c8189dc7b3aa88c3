/**
 * What the conversation page shows: transcript lines and tool cards, folded from the gateway's
 * live messages and from the event-store's stored events (so history and live look the same).
 */
import type { ProgressSource, Role, ServerMessage } from "../protocol/messages";
import type { RunProgress, StoredEvent } from "../api/types";
import { PROGRESS_KEY } from "../protocol/vocabulary";

export interface TranscriptLine {
  id: string;
  order: number; // arrival order, shared with cards: the transcript shows both in this order
  role: Role;
  text: string;
  final: boolean;
  timestamp: string;
  device: string | null; // a user line: the device that spoke it, when the gateway said
}

export type ToolStatus = "running" | "done" | "failed";

export interface ProgressEntry {
  id: string;
  text: string;
  eventType: string;
  finished: boolean;
  timestamp: string;
}

export interface ToolCard {
  key: string;
  order: number;
  callId: string; // "" for a standalone activity card (progress with no tool call to attach to)
  name: string; // the tool, or the source (nested_agent/claude_code) of an activity card
  arguments: Record<string, unknown>;
  status: ToolStatus;
  ok: boolean | null; // the tool's answer, once it came
  result: string | null;
  progress: ProgressEntry[];
  runFinished: boolean;
  timestamp: string;
}

export interface ConversationView {
  lines: TranscriptLine[];
  cards: ToolCard[];
  seq: number;
  // Every device known to have taken part (user lines, the floor, this device's own session):
  // with more than one, user lines show which device spoke them.
  devices: string[];
}

export const emptyConversation: ConversationView = { lines: [], cards: [], seq: 0, devices: [] };

/** The view, knowing that `device` takes part (unchanged when it was known, or null). */
export function noteDevice(view: ConversationView, device: string | null): ConversationView {
  if (device === null || view.devices.includes(device)) return view;
  return { ...view, devices: [...view.devices, device] };
}

/** Whether user lines should say which device spoke them: more than one device took part. */
export function showsDevices(view: ConversationView): boolean {
  return view.devices.length > 1;
}

// Tools that hand work over: their card stays open after the answer, until the run finishes.
const DELEGATING: Record<string, ProgressSource> = {
  send_to_nested: "nested_agent",
  send_to_claude_code: "claude_code",
};

const activityName = (source: ProgressSource) => source;

function isOpenFor(card: ToolCard, source: ProgressSource): boolean {
  if (card.runFinished || card.status === "failed") return false;
  return DELEGATING[card.name] === source || (card.callId === "" && card.name === activityName(source));
}

function replaceCard(view: ConversationView, index: number, card: ToolCard): ToolCard[] {
  const cards = view.cards.slice();
  cards[index] = card;
  return cards;
}

export function addTranscript(
  view: ConversationView,
  role: Role,
  text: string,
  final: boolean,
  timestamp: string,
  device: string | null = null,
): ConversationView {
  const seq = view.seq + 1;
  const by = role === "user" ? device : null;
  view = noteDevice(view, by);
  const last = view.lines[view.lines.length - 1];
  // A partial line is replaced by what follows it from the same speaker.
  if (last && last.role === role && !last.final && last.device === by) {
    const lines = view.lines.slice(0, -1);
    lines.push({ ...last, text, final, timestamp });
    return { ...view, lines, seq };
  }
  const line: TranscriptLine = { id: `l${seq}`, order: seq, role, text, final, timestamp, device: by };
  return { ...view, lines: [...view.lines, line], seq };
}

export function addFunctionCall(
  view: ConversationView,
  callId: string,
  name: string,
  args: Record<string, unknown>,
  timestamp: string,
): ConversationView {
  if (view.cards.some((c) => c.callId === callId && callId !== "")) return view;
  const card: ToolCard = {
    key: `call-${callId}`,
    order: view.seq + 1,
    callId,
    name,
    arguments: args,
    status: "running",
    ok: null,
    result: null,
    progress: [],
    runFinished: false,
    timestamp,
  };
  return { ...view, cards: [...view.cards, card], seq: view.seq + 1 };
}

export function addFunctionResult(
  view: ConversationView,
  callId: string,
  name: string,
  ok: boolean,
  result: string,
  timestamp: string,
): ConversationView {
  let index = view.cards.findIndex((c) => c.callId === callId);
  if (index < 0) {
    view = addFunctionCall(view, callId, name, {}, timestamp);
    index = view.cards.length - 1;
  }
  const card = view.cards[index]!;
  const handedOver = ok && name in DELEGATING && !card.runFinished;
  const status: ToolStatus = !ok ? "failed" : handedOver ? "running" : "done";
  return { ...view, cards: replaceCard(view, index, { ...card, ok, result, status }), seq: view.seq + 1 };
}

export function addProgress(
  view: ConversationView,
  source: ProgressSource,
  eventType: string,
  text: string,
  finished: boolean,
  timestamp: string,
): ConversationView {
  const seq = view.seq + 1;
  const entry: ProgressEntry = { id: `p${seq}`, text, eventType, finished, timestamp };
  let index = -1;
  for (let i = view.cards.length - 1; i >= 0; i--) {
    if (isOpenFor(view.cards[i]!, source)) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    const card: ToolCard = {
      key: `activity-${seq}`,
      order: seq,
      callId: "",
      name: activityName(source),
      arguments: {},
      status: finished ? "done" : "running",
      ok: null,
      result: null,
      progress: [entry],
      runFinished: finished,
      timestamp,
    };
    return { ...view, cards: [...view.cards, card], seq };
  }
  const card = view.cards[index]!;
  const next: ToolCard = { ...card, progress: [...card.progress, entry] };
  if (finished) {
    next.runFinished = true;
    if (next.status === "running" && next.ok !== false) next.status = "done";
  }
  return { ...view, cards: replaceCard(view, index, next), seq };
}

/** Folds one live message into the view (messages that show nothing here return it unchanged). */
export function applyMessage(view: ConversationView, message: ServerMessage): ConversationView {
  switch (message.type) {
    case "transcription":
      return addTranscript(view, message.role, message.text, message.final, message.timestamp, message.device);
    case "floor":
      return noteDevice(view, message.device);
    case "session": // this device's own name, in the session it started or joined
      return message.state === "started" || message.state === "joined" ? noteDevice(view, message.device) : view;
    case "function_call":
      return addFunctionCall(view, message.call_id, message.name, message.arguments, message.timestamp);
    case "function_result":
      return addFunctionResult(view, message.call_id, message.name, message.ok, message.result, message.timestamp);
    case "progress":
      return addProgress(view, message.source, message.event_type, message.text, message.finished, message.timestamp);
    default:
      return view;
  }
}

const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * The step of a team or Claude Code run a stored event carries: the tool-worker reads each
 * backend message once and attaches it (contracts/progress.py), the line the gateway sent live.
 * Null for chatter, and for events stored before steps were attached.
 */
export function progressFromEvent(event: StoredEvent): RunProgress | null {
  if (event.source !== "nested_agent" && event.source !== "claude_code") return null;
  const step = asRecord(event.payload[PROGRESS_KEY]);
  if (typeof step.line !== "string" || typeof step.text !== "string") return null;
  return step as unknown as RunProgress;
}

/** Folds one stored event (from the event-store) into the view. */
export function applyStoredEvent(view: ConversationView, event: StoredEvent): ConversationView {
  const p = event.payload;
  const timestamp = event.timestamp;
  if (event.source === "voice") {
    if ((event.type === "transcript" || event.type === "transcription") && typeof p.text === "string" && p.text) {
      const device = typeof p.device === "string" && p.device ? p.device : null;
      return addTranscript(view, p.role === "user" ? "user" : "assistant", p.text, true, timestamp, device);
    }
    if (event.type === "function_call" && typeof p.call_id === "string") {
      return addFunctionCall(view, p.call_id, String(p.name ?? "tool"), asRecord(p.arguments), timestamp);
    }
    if (event.type === "function_result" && typeof p.call_id === "string") {
      const ok = typeof p.ok === "boolean" ? p.ok : !p.error_kind;
      return addFunctionResult(view, p.call_id, String(p.name ?? "tool"), ok, String(p.result ?? ""), timestamp);
    }
    return view;
  }
  const step = progressFromEvent(event);
  if (step === null) return view;
  const source: ProgressSource = event.source === "nested_agent" ? "nested_agent" : "claude_code";
  return addProgress(view, source, event.type, step.line, step.finished, timestamp);
}

export function viewFromEvents(events: StoredEvent[]): ConversationView {
  return events.reduce(applyStoredEvent, emptyConversation);
}
