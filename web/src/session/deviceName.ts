/**
 * This device's name, as transcripts show it when several devices share a session (sent as
 * `device=` when starting or joining one; docs/protocol.md, Several devices). Set in Settings and
 * kept in this browser; by default the browser and the platform ("Chrome on Android").
 */
const KEY = "agenticVoice.device";
const MAX = 32; // characters (code points), as the gateway counts them
const listeners = new Set<() => void>();

// The gateway's rule, `^[\w][\w .'-]{0,31}$` (Python's \w: letters, digits, `_`, any script).
export const DEVICE_NAME = /^[\p{L}\p{N}_][\p{L}\p{N}_ .'-]{0,31}$/u;
export const FALLBACK_DEVICE_NAME = "This device";

export function isDeviceName(value: string): boolean {
  return DEVICE_NAME.test(value);
}

/** `raw` made into a name the gateway takes (characters it refuses dropped, spaces folded, at most
 * 32 characters), or null when nothing is left. */
export function cleanDeviceName(raw: string): string | null {
  const kept = raw
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}_ .'-]+/gu, " ")
    .replace(/\s+/g, " ")
    .replace(/^[ .'-]+/, "");
  const name = Array.from(kept).slice(0, MAX).join("").trim();
  return name !== "" && isDeviceName(name) ? name : null;
}

function browserOf(agent: string): string | null {
  if (/Edg\//.test(agent)) return "Edge";
  if (/OPR\/|Opera/.test(agent)) return "Opera";
  if (/Firefox\/|FxiOS/.test(agent)) return "Firefox";
  if (/Chrome\/|Chromium\/|CriOS/.test(agent)) return "Chrome";
  if (/Safari\//.test(agent)) return "Safari";
  return null;
}

function platformOf(agent: string): string | null {
  if (/Android/.test(agent)) return "Android";
  if (/iPhone/.test(agent)) return "iPhone";
  if (/iPad/.test(agent)) return "iPad";
  if (/CrOS/.test(agent)) return "ChromeOS";
  if (/Windows/.test(agent)) return "Windows";
  if (/Mac OS X|Macintosh/.test(agent)) return "macOS";
  if (/Linux/.test(agent)) return "Linux";
  return null;
}

/** "Chrome on Android", "Safari on iPhone", …; "This device" when the user agent says nothing
 * known. */
export function defaultDeviceName(userAgent: string): string {
  const browser = browserOf(userAgent);
  const platform = platformOf(userAgent);
  if (browser && platform) return `${browser} on ${platform}`;
  return browser ?? platform ?? FALLBACK_DEVICE_NAME;
}

function userAgent(): string {
  return typeof navigator === "undefined" ? "" : navigator.userAgent;
}

/** The name set in Settings, else the default for this browser. Always one the gateway takes. */
export function getDeviceName(): string {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // No storage (private mode): the default.
  }
  return (stored !== null && cleanDeviceName(stored)) || cleanDeviceName(defaultDeviceName(userAgent())) || FALLBACK_DEVICE_NAME;
}

/** The name set in Settings, or "" when none is (the default applies). */
export function getStoredDeviceName(): string {
  try {
    return localStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

/** Keeps `raw` (cleaned) as this device's name; an empty one goes back to the default. Returns the
 * name now in use. */
export function setDeviceName(raw: string): string {
  const name = cleanDeviceName(raw);
  try {
    if (name) localStorage.setItem(KEY, name);
    else localStorage.removeItem(KEY);
  } catch {
    // Private mode without storage: the default stays.
  }
  for (const listener of listeners) listener();
  return getDeviceName();
}

export function subscribeDeviceName(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
