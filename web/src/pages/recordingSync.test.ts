import { describe, expect, it } from "vitest";
import type { Recording, StoredEvent } from "../api/types";
import { lineAt, positionOf, transcriptLines } from "./recordingSync";

const T0 = Date.parse("2026-12-02T10:00:00Z");

function event(id: number, atS: number, type: string, payload: Record<string, unknown>): StoredEvent {
  return {
    id,
    event_id: `e${id}`,
    conversation_id: "c",
    timestamp: new Date(T0 + atS * 1000).toISOString(),
    source: type === "session_started" ? "controller" : "voice",
    type,
    payload,
  };
}

const recording: Recording = {
  id: "r".repeat(32),
  conversation_id: "c",
  session_id: null,
  started_at: "2026-12-02T10:00:00.500Z",
  finished_at: "2026-12-02T10:01:00Z",
  duration_s: 59.5,
  bytes: 1000,
  format: "flac",
  sample_rate: 24000,
  channels: 2,
  state: "finished",
};

describe("the transcript following a recording", () => {
  const events = [
    event(1, 0, "session_started", {}),
    event(2, 3, "transcript", { role: "assistant", text: "Hello! How can I help?" }),
    event(3, 3.2, "latency", { metric: "voice", seconds: 0.5 }),
    event(4, 12, "transcript", { role: "user", text: "Write down the shopping list." }),
    event(5, 14, "transcript", { role: "assistant", text: "Done." }),
  ];
  const lines = transcriptLines(events);

  it("keeps only what was said, each line ending at its event's timestamp", () => {
    expect(lines.map((l) => l.id)).toEqual([2, 4, 5]);
    expect(lines.map((l) => l.end - T0)).toEqual([3000, 12000, 14000]);
  });

  it("starts a line as long before its stamp as its words take to say, never before the line before it", () => {
    // 22 characters at 14 a second, plus the recogniser's slack: 2.27 s before 3 s.
    expect(lines[0]!.start - T0).toBeCloseTo(3000 - (22 / 14) * 1000 - 700, 0);
    expect(lines[1]!.start - T0).toBeCloseTo(12000 - (29 / 14) * 1000 - 700, 0);
    // "Done." is short (the minimum), and the user's line ended 2 s before it.
    expect(lines[2]!.start - T0).toBe(14000 - 800 - 700);
  });

  it("maps a playback position to the line being said then, and to none in a pause", () => {
    const at = (seconds: number) => lineAt(lines, positionOf(recording, seconds));
    expect(positionOf(recording, 1.25)).toBe(T0 + 1750);
    expect(at(0)).toBeNull(); // 0.5 s into the session: nobody spoke yet
    expect(at(2.0)).toBe(2); // 2.5 s: the greeting
    expect(at(5)).toBeNull(); // 5.5 s: the pause before the user speaks
    expect(at(10.5)).toBe(4); // 11 s: the user
    expect(at(13.2)).toBe(5); // 13.7 s: the answer
    expect(at(30)).toBeNull(); // after everything
  });

  it("orders lines by time even when rows were stored out of order", () => {
    const shuffled = transcriptLines([events[4]!, events[1]!, events[3]!]);
    expect(shuffled.map((l) => l.id)).toEqual([2, 4, 5]);
  });
});
