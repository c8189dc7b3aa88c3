/**
 * The gateway's JSON messages (raw format), as libs/contracts/src/contracts/browser.py defines
 * them (tests/ops/test_web_types_match_models.py fails when these interfaces drift from it).
 * `parseServerMessage` checks each field it relies on; anything else (unknown types, missing
 * fields, not JSON) yields null and is ignored, never thrown.
 */

export type Role = "user" | "assistant";
export type ProgressSource = "nested_agent" | "claude_code";
/** How a device takes part in a session it joined (`?join=live&role=`): a listener hears only. */
export type DeviceRole = "speaker" | "listener";

interface Base {
  timestamp: string;
}

export interface TranscriptionMessage extends Base {
  type: "transcription";
  role: Role;
  text: string;
  user_id: string;
  final: boolean;
  // The user's words: the device that spoke them (the session's own, or one that joined).
  device: string | null;
}

export interface FunctionCallMessage extends Base {
  type: "function_call";
  call_id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface FunctionResultMessage extends Base {
  type: "function_result";
  call_id: string;
  name: string;
  ok: boolean;
  result: string;
}

export interface ProgressMessage extends Base {
  type: "progress";
  source: ProgressSource;
  event_type: string;
  text: string;
  finished: boolean;
}

/** The first and last message of a session, and the answer to a resume or a join
 * (docs/protocol.md). */
export interface SessionMessage extends Base {
  type: "session";
  state: "started" | "resumed" | "joined" | "stopped";
  session_id: string;
  conversation_id: string;
  reason: string | null;
  // started: the secret a resume shows (keep it in memory only, never log it), and how long after
  // a dropped connection the session waits for one.
  resume_key: string | null;
  resume_s: number | null;
  // resumed: the client's frames that reached the session (it sends the rest again), the frames
  // sent again, and the missed frames the session no longer had.
  received: number | null;
  replayed: number | null;
  skipped: number | null;
  // started, joined: this connection's device; joined: whether it may speak.
  device: string | null;
  role: "speaker" | "listener" | null;
}

/** Several devices share the session: who holds the floor (only its microphone reaches the
 * assistant), or null when it is free. */
export interface FloorMessage extends Base {
  type: "floor";
  device: string | null;
}

export interface ErrorMessage extends Base {
  type: "error";
  code: string;
  message: string;
  fatal: boolean;
}

export interface LatencyMessage extends Base {
  type: "latency";
  metric: string;
  ms: number;
}

export interface SpeakingMessage extends Base {
  type: "speaking";
  role: "assistant";
  speaking: boolean;
}

export interface InterruptionMessage extends Base {
  type: "interruption";
}

export interface PongMessage extends Base {
  type: "pong";
  id: string | null;
}

export type ServerMessage =
  | TranscriptionMessage
  | FunctionCallMessage
  | FunctionResultMessage
  | ProgressMessage
  | SessionMessage
  | FloorMessage
  | ErrorMessage
  | LatencyMessage
  | SpeakingMessage
  | InterruptionMessage
  | PongMessage;

/** What the listener heard of one assistant turn (contracts.browser.ClientStats). */
export interface ClientStatsMessage {
  type: "client_stats";
  mouth_to_ear_ms?: number | null;
  played_ms: number;
  underruns: number;
  underrun_ms: number;
  buffer_ms: number;
}

/** The first frame on a connection opened with `?resume=<session_id>` (contracts.browser.ResumeRequest):
 * `received` counts every frame of the session received so far, on all its connections. */
export interface ResumeMessage {
  type: "resume";
  resume_key: string;
  received: number;
}

export type ClientMessage = { type: "ping"; id?: string } | { type: "stop" } | ClientStatsMessage | ResumeMessage;

type Json = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === "string";
const isBool = (v: unknown): v is boolean => typeof v === "boolean";
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function timestampOf(m: Json): string {
  return isString(m.timestamp) ? m.timestamp : new Date().toISOString();
}

function boolOr(value: unknown, fallback: boolean): boolean {
  return isBool(value) ? value : fallback;
}

/** A non-negative finite number, else null. */
function amount(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

/** A non-empty string, else null. */
function nonEmpty(value: unknown): string | null {
  return isString(value) && value !== "" ? value : null;
}

/** A count (a non-negative whole number), else null. */
function count(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** One parsed message, or null for anything the client does not understand. */
export function parseServerMessage(raw: string): ServerMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  return toServerMessage(data);
}

export function toServerMessage(data: unknown): ServerMessage | null {
  if (!isObject(data) || !isString(data.type)) return null;
  const m = data;
  const timestamp = timestampOf(m);
  switch (m.type) {
    case "transcription":
      if (!isString(m.text) || (m.role !== "user" && m.role !== "assistant")) return null;
      return {
        type: "transcription",
        timestamp,
        role: m.role,
        text: m.text,
        user_id: isString(m.user_id) ? m.user_id : "user",
        final: boolOr(m.final, true),
        device: nonEmpty(m.device),
      };
    case "function_call":
      if (!isString(m.call_id) || !isString(m.name)) return null;
      return {
        type: "function_call",
        timestamp,
        call_id: m.call_id,
        name: m.name,
        arguments: isObject(m.arguments) ? m.arguments : {},
      };
    case "function_result":
      if (!isString(m.call_id) || !isString(m.name) || !isBool(m.ok)) return null;
      return {
        type: "function_result",
        timestamp,
        call_id: m.call_id,
        name: m.name,
        ok: m.ok,
        result: isString(m.result) ? m.result : JSON.stringify(m.result ?? ""),
      };
    case "progress":
      if (m.source !== "nested_agent" && m.source !== "claude_code") return null;
      if (!isString(m.text)) return null;
      return {
        type: "progress",
        timestamp,
        source: m.source,
        event_type: isString(m.event_type) ? m.event_type : "",
        text: m.text,
        finished: boolOr(m.finished, false),
      };
    case "session":
      if (m.state !== "started" && m.state !== "resumed" && m.state !== "joined" && m.state !== "stopped") return null;
      // A resume answer without its count cannot be acted on.
      if (m.state === "resumed" && count(m.received) === null) return null;
      return {
        type: "session",
        timestamp,
        state: m.state,
        session_id: isString(m.session_id) ? m.session_id : "",
        conversation_id: isString(m.conversation_id) ? m.conversation_id : "",
        reason: isString(m.reason) ? m.reason : null,
        resume_key: isString(m.resume_key) && m.resume_key !== "" ? m.resume_key : null,
        resume_s: amount(m.resume_s),
        received: count(m.received),
        replayed: count(m.replayed),
        skipped: count(m.skipped),
        device: nonEmpty(m.device),
        role: m.role === "speaker" || m.role === "listener" ? m.role : null,
      };
    case "floor":
      // `device` is required (null: the floor is free); anything but a name or null is not a floor.
      if (m.device !== null && nonEmpty(m.device) === null) return null;
      return { type: "floor", timestamp, device: nonEmpty(m.device) };
    case "error":
      if (!isString(m.code) || !isString(m.message)) return null;
      return { type: "error", timestamp, code: m.code, message: m.message, fatal: boolOr(m.fatal, false) };
    case "latency":
      if (!isString(m.metric) || typeof m.ms !== "number" || !Number.isFinite(m.ms)) return null;
      return { type: "latency", timestamp, metric: m.metric, ms: m.ms };
    case "speaking":
      if (!isBool(m.speaking)) return null;
      return { type: "speaking", timestamp, role: "assistant", speaking: m.speaking };
    case "interruption":
      return { type: "interruption", timestamp };
    case "pong":
      return { type: "pong", timestamp, id: isString(m.id) ? m.id : null };
    default:
      return null;
  }
}
