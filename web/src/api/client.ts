/** The event-store's conversation API, same origin, with the optional bearer token (in a
 * header, never in a URL: sockets get a ticket instead, api/tickets.ts). */
import { getToken } from "./token";
import type { ConversationDetail, ConversationSummary, Recording, StoredEvent } from "./types";

export const CONVERSATIONS = "/api/realtime/conversations";
const PAGE = 1000; // the API's largest page

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  get unauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

/** A same-origin JSON request with the bearer token; errors as `ApiError` with a `detail`. */
export async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(path, {
    ...init,
    headers: headers((init.headers as Record<string, string> | undefined) ?? {}),
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = (await response.json()) as { detail?: unknown };
      if (typeof body.detail === "string") detail = body.detail;
    } catch {
      // not JSON: keep the status text
    }
    if (response.status === 401 || response.status === 403) {
      throw new ApiError(response.status, "Access token required or invalid: set it in Settings.");
    }
    throw new ApiError(response.status, `${response.status} ${detail}`.trim());
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

const one = (id: string) => `${CONVERSATIONS}/${encodeURIComponent(id)}`;

export function listConversations(limit = 100): Promise<ConversationSummary[]> {
  return request(`${CONVERSATIONS}?limit=${limit}`);
}

/** The summary and every event, page by page; null when the conversation does not exist yet. */
export async function loadConversation(id: string): Promise<ConversationDetail | null> {
  let detail: ConversationDetail;
  try {
    detail = await request<ConversationDetail>(`${one(id)}?limit=${PAGE}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
  const events = detail.events.slice();
  let page = detail.events;
  while (page.length === PAGE) {
    page = await request<StoredEvent[]>(`${one(id)}/events?limit=${PAGE}&after=${events[events.length - 1]!.id}`);
    events.push(...page);
  }
  return { ...detail, events };
}

export function renameConversation(id: string, name: string): Promise<ConversationSummary> {
  return request(one(id), {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name }),
  });
}

export function deleteConversation(id: string): Promise<void> {
  return request(one(id), { method: "DELETE" });
}

export type ExportFormat = "json" | "markdown" | "text";

export function exportUrl(id: string, format: ExportFormat): string {
  return `${one(id)}/export?format=${format}`;
}

/** Downloads an export with the bearer header (a plain link cannot carry it). */
export async function downloadExport(id: string, format: ExportFormat): Promise<void> {
  const response = await fetch(exportUrl(id, format), { headers: headers() });
  if (!response.ok) {
    throw new ApiError(
      response.status,
      response.status === 401 || response.status === 403
        ? "Access token required or invalid: set it in Settings."
        : `Export failed (${response.status}).`,
    );
  }
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.download = `conversation-${id}.${format === "markdown" ? "md" : format === "json" ? "json" : "txt"}`;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

// --- recordings --------------------------------------------------------------------------------

/** A conversation's recorded sessions, oldest first. */
export function listRecordings(id: string): Promise<Recording[]> {
  return request(`${one(id)}/recordings`);
}

/** A finished recording's audio (FLAC; the server answers `Range` requests, for seeking). */
export function recordingUrl(id: string, recordingId: string): string {
  return `${one(id)}/recordings/${encodeURIComponent(recordingId)}`;
}

export function recordingFilename(id: string, recordingId: string): string {
  return `recording-${id}-${recordingId}.flac`;
}

async function recordingBlob(id: string, recordingId: string): Promise<Blob> {
  const response = await fetch(recordingUrl(id, recordingId), { headers: headers() });
  if (!response.ok) {
    throw new ApiError(
      response.status,
      response.status === 401 || response.status === 403
        ? "Access token required or invalid: set it in Settings."
        : `Recording unavailable (${response.status}).`,
    );
  }
  return response.blob();
}

/** The audio as an object URL, fetched with the bearer header (an `<audio>` element cannot send
 * it). The caller revokes it. */
export async function recordingObjectUrl(id: string, recordingId: string): Promise<string> {
  return URL.createObjectURL(await recordingBlob(id, recordingId));
}

/** Saves a recording with the bearer header (a plain link cannot carry it). */
export async function downloadRecording(id: string, recordingId: string): Promise<void> {
  const href = URL.createObjectURL(await recordingBlob(id, recordingId));
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.download = recordingFilename(id, recordingId);
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
