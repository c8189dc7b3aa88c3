/** One stored event as a person reads it (the same choices as the event-store's Markdown export). */
import type { StoredEvent } from "../api/types";
import { ProgressKind } from "../protocol/vocabulary";
import { progressFromEvent } from "../session/conversation";

export interface EventLine {
  speaker: string;
  text: string;
  raw?: string; // the payload as JSON, for events shown only as a summary
  tone: "user" | "assistant" | "tool" | "team" | "session" | "error" | "other";
}

const MAX_SUMMARY = 160;

/** Any other event's payload, on one line and shortened (the whole of it is in `raw`). */
function summary(payload: Record<string, unknown>): string {
  const flat = JSON.stringify(payload).split(/\s+/).join(" ");
  return flat.length <= MAX_SUMMARY ? flat : `${flat.slice(0, MAX_SUMMARY - 1)}…`;
}

const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v ?? ""));

export function describeEvent(event: StoredEvent): EventLine {
  const p = event.payload;
  const kind = `${event.source}/${event.type}`;
  if ((kind === "voice/transcript" || kind === "voice/transcription") && typeof p.text === "string") {
    return p.role === "user"
      ? { speaker: "You", text: p.text, tone: "user" }
      : { speaker: "Assistant", text: p.text, tone: "assistant" };
  }
  if (kind === "voice/function_call") {
    return { speaker: "Tool call", text: `${str(p.name)}(${JSON.stringify(p.arguments ?? {})})`, tone: "tool" };
  }
  if (kind === "voice/function_result") {
    const failed = p.ok === false;
    return { speaker: failed ? "Tool failed" : "Tool result", text: `${str(p.name)}: ${str(p.result)}`, tone: failed ? "error" : "tool" };
  }
  if (event.source === "controller" && (event.type === "session_started" || event.type === "session_stopped")) {
    const reason = typeof p.reason === "string" ? ` (${p.reason})` : "";
    return { speaker: "Session", text: (event.type === "session_started" ? "Started" : "Stopped") + reason, tone: "session" };
  }
  const progress = progressFromEvent(event);
  if (progress?.kind === ProgressKind.ERROR) return { speaker: "Error", text: progress.text, tone: "error" };
  if (progress) {
    return { speaker: event.source === "nested_agent" ? "Team" : "Claude Code", text: progress.line, tone: "team" };
  }
  if (event.type.toLowerCase() === "error") return { speaker: "Error", text: str(p.message ?? p), tone: "error" };
  if (event.source === "voice" && event.type === "latency") {
    const ms = typeof p.seconds === "number" ? `${Math.round(p.seconds * 1000)} ms` : str(p.ms ?? "");
    return { speaker: "Latency", text: `${str(p.metric)}: ${ms}`, tone: "other" };
  }
  return { speaker: `${event.source} · ${event.type}`, text: summary(p), tone: "other", raw: JSON.stringify(p, null, 2) };
}
