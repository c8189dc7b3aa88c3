/**
 * This browser's own device id, sent when it joins a live session (`device_id=`,
 * docs/protocol.md, Several devices). Joining again under the same name (a phone back from sleep,
 * before the gateway saw its old connection drop) replaces the old connection only when the id
 * matches; another browser that happens to have the same name ("Chrome on Android") gets the name
 * numbered instead of putting this one out. Random, kept in this browser; not a credential.
 */
const KEY = "agenticVoice.deviceId";
export const DEVICE_ID = /^[A-Za-z0-9_-]{16,64}$/;

function fresh(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

let inMemory: string | null = null; // without storage (private mode): one per page load

export function getDeviceId(): string {
  try {
    const stored = localStorage.getItem(KEY);
    if (stored !== null && DEVICE_ID.test(stored)) return stored;
    const id = fresh();
    localStorage.setItem(KEY, id);
    return id;
  } catch {
    inMemory ??= fresh();
    return inMemory;
  }
}
