/**
 * Whether the sessions this device starts are recorded (both directions, kept by the event-store
 * as FLAC, playable from the history page): the gateway records a session when its URL says
 * `record=1`, not when it says `record=0`, and otherwise follows its own default
 * (GATEWAY_RECORD_DEFAULT; docs/protocol.md). Set in Settings and kept in this browser, like the
 * device name.
 */
const KEY = "agenticVoice.record";

/** "default": say nothing, the server decides; "always": `record=1`; "never": `record=0`. */
export type RecordChoice = "default" | "always" | "never";

export const RECORD_CHOICES: readonly RecordChoice[] = ["default", "always", "never"];

export function isRecordChoice(value: string): value is RecordChoice {
  return (RECORD_CHOICES as readonly string[]).includes(value);
}

/** What a new session's URL asks for: true (`record=1`), false (`record=0`), or null (nothing,
 * the server's default). */
export function recordFlag(choice: RecordChoice): boolean | null {
  return choice === "always" ? true : choice === "never" ? false : null;
}

/** The choice made in Settings; "default" when none was (or storage is unavailable, or what is
 * stored is not a choice this version knows). */
export function getRecordChoice(): RecordChoice {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // No storage (private mode): the server's default.
  }
  return stored !== null && isRecordChoice(stored) ? stored : "default";
}

/** Keeps `choice`; "default" as nothing stored, the state a browser starts in. */
export function setRecordChoice(choice: RecordChoice): void {
  try {
    if (choice === "default") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Private mode without storage: the server's default stays.
  }
}
