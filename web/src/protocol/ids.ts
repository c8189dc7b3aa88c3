/** Conversation ids and the voice endpoint's URL (same origin, relative to the page). */
import type { DeviceRole } from "./messages";

// protocol.md: 1-128 characters of [A-Za-z0-9_.:-], starting with a letter or digit.
export const CONVERSATION_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function isConversationId(value: string): boolean {
  return CONVERSATION_ID.test(value);
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `conv-20261202-083015-k3x9qz`: sortable by creation time, unique enough per person. */
export function newConversationId(now: Date = new Date(), random: () => number = Math.random): string {
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  let suffix = "";
  for (let i = 0; i < 6; i++) suffix += "abcdefghijklmnopqrstuvwxyz0123456789"[Math.floor(random() * 36) % 36];
  return `conv-${date}-${time}-${suffix}`;
}

export interface PageLocation {
  protocol: string;
  host: string;
}

/** How this connection takes part: `device`, the name transcripts give this device (the session's
 * own, or one joining); `join`, join the conversation's live session in that role instead of
 * starting one (docs/protocol.md, Several devices); `record`, record the session this connection
 * starts (`record=1`) or not (`record=0`), null for the gateway's default (GATEWAY_RECORD_DEFAULT). */
export interface SocketOptions {
  device?: string | null;
  join?: DeviceRole | null;
  record?: boolean | null;
  // This browser's own id (session/deviceId.ts), sent with a join only.
  deviceId?: string | null;
}

/** The voice socket's URL, with a ticket (api/tickets.ts) when the stack wants one: never the
 * token itself, which a URL would carry into logs. `resume`: the id of a session to carry on over
 * this socket (docs/protocol.md, Resume); its key goes in the first frame, never in the URL. */
export function voiceSocketUrl(
  conversationId: string,
  ticket: string | null,
  where: PageLocation,
  resume: string | null = null,
  options: SocketOptions = {},
): string {
  const scheme = where.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ format: "raw" });
  if (ticket) query.set("ticket", ticket);
  if (resume) query.set("resume", resume);
  else if (options.join) {
    query.set("join", "live");
    query.set("role", options.join);
  }
  if (options.device && !resume) query.set("device", options.device); // a resumed session has its name
  if (options.join && options.deviceId && !resume) query.set("device_id", options.deviceId);
  // Only a session's start decides its recording: a resume carries it on as it was, and a joined
  // device takes part in a session whose own device decided.
  if (typeof options.record === "boolean" && !resume && !options.join) query.set("record", options.record ? "1" : "0");
  return `${scheme}://${where.host}/api/realtime/pipecat/ws/${encodeURIComponent(conversationId)}?${query}`;
}
