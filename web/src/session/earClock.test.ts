import { describe, expect, it } from "vitest";
import { EarClock, VOICED_PEAK, type HeardTurn } from "./earClock";

const voiced = Int16Array.from({ length: 480 }, (_, i) => (i % 2 ? VOICED_PEAK : -VOICED_PEAK));
const quiet = new Int16Array(480).fill(VOICED_PEAK - 1);

function turn(startedAt: number, endedAt: number, extra: Partial<HeardTurn> = {}): HeardTurn {
  return { startedAt, endedAt, playedMs: 1800, underruns: 0, underrunMs: 0, bufferMs: 60, ...extra };
}

describe("EarClock", () => {
  it("measures from the last voiced frame to the first sample played", () => {
    const clock = new EarClock();
    clock.frameSent(voiced, 1000);
    clock.frameSent(voiced, 1020);
    clock.frameSent(quiet, 1040); // silence after speech does not move the mark
    expect(clock.heard(turn(1890.04, 4000))).toEqual({
      type: "client_stats",
      mouth_to_ear_ms: 870,
      played_ms: 1800,
      underruns: 0,
      underrun_ms: 0,
      buffer_ms: 60,
    });
  });

  it("gives no figure for a turn the user did not start", () => {
    const clock = new EarClock();
    expect(clock.heard(turn(500, 2000)).mouth_to_ear_ms).toBeNull(); // the greeting
    clock.frameSent(voiced, 2500);
    expect(clock.heard(turn(3100, 5000)).mouth_to_ear_ms).toBe(600);
    expect(clock.heard(turn(9000, 11000)).mouth_to_ear_ms).toBeNull(); // a run's summary
  });

  it("never reports underruns without the silence they inserted", () => {
    const stats = new EarClock().heard(turn(0, 1, { underruns: 1, underrunMs: 0.01 }));
    expect(stats.underrun_ms).toBeGreaterThan(0);
  });
});
