/** The transcript following a recording as it plays: which line was being said at the playback
 * position. Pure, so the rule is tested on its own (recordingSync.test.ts).
 *
 * A recording's `started_at` is on the clock of the events' timestamps, so the audio at `t`
 * seconds was heard at `started_at + t`. A transcript event is stamped when its words ended (the
 * user's once recognised, the assistant's once played), so a line spans from an estimate of when
 * its words began (from its length, never before the line before it ended) to its stamp. */
import type { Recording, StoredEvent } from "../api/types";
import { describeEvent } from "./describeEvent";

export interface TimedLine {
  id: number; // the event's row id
  start: number; // ms since the epoch
  end: number;
}

const CHARS_PER_S = 14; // speech, at a conversational pace
const MIN_LINE_MS = 800;
// A user's transcript comes after the end-of-turn silence and recognition: the words ended
// before the stamp.
const SLACK_MS = 700;

function spoken(text: string): number {
  return Math.max(MIN_LINE_MS, (text.length / CHARS_PER_S) * 1000) + SLACK_MS;
}

/** The transcript lines among `events` (what the user and the assistant said), with when each
 * was being said, in time order. */
export function transcriptLines(events: StoredEvent[]): TimedLine[] {
  const said = events
    .map((event) => ({ event, line: describeEvent(event), end: Date.parse(event.timestamp) }))
    .filter(({ line, end }) => (line.tone === "user" || line.tone === "assistant") && !Number.isNaN(end))
    .sort((a, b) => a.end - b.end);
  const lines: TimedLine[] = [];
  for (const { event, line, end } of said) {
    const previous = lines.length ? lines[lines.length - 1]!.end : -Infinity;
    lines.push({ id: event.id, start: Math.min(end, Math.max(previous, end - spoken(line.text))), end });
  }
  return lines;
}

/** When the audio at `seconds` into `recording` was heard (ms since the epoch). */
export function positionOf(recording: Recording, seconds: number): number {
  return Date.parse(recording.started_at) + seconds * 1000;
}

/** The line being said at `position` (ms since the epoch), or null between lines. */
export function lineAt(lines: TimedLine[], position: number): number | null {
  for (const line of lines) {
    if (position >= line.start && position <= line.end) return line.id;
  }
  return null;
}
