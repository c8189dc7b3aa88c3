import { describe, expect, it } from "vitest";
import { parseTrace, replay, type ReplayEvent, type ReplayTurn } from "./replay";

// At 24 kHz a quantum of 128 samples lasts 16/3 ms; a 40 ms chunk is 960 samples. The meter
// starts with a 60 ms target (1440 samples): the queue waits for that much, or at most
// ceil(2 * 1440 / 128) = 23 quanta. An underrun grows the target from what was queued when
// playing last started by the time nothing was queued, at least 20 ms (480 samples), at most to
// 200 ms (4800).
const RATE = 24_000;
const AT_60_MS = { startBufferMs: 60 }; // what the numbers here are worked out for
const Q_MS = 16 / 3;
const CHUNK = 960;

function turnsOf(events: ReplayEvent[]): ReplayTurn[] {
  const result = replay({ sampleRate: RATE, sessions: [{ events }] }, AT_60_MS);
  expect(result.sessions).toHaveLength(1);
  return result.sessions[0]!.turns;
}

/** 50 chunks of 40 ms, the i-th at `at(i)`, then the gateway's word that the turn is over. */
function stream(at: (i: number) => number): ReplayEvent[] {
  const events: ReplayEvent[] = [];
  for (let i = 0; i < 50; i++) events.push({ t: at(i), type: "chunk", samples: CHUNK });
  events.push({ t: at(49), type: "speaking-ended" });
  return events;
}

function expectTurn(turn: ReplayTurn | undefined, expected: ReplayTurn): void {
  expect(turn).toBeDefined();
  const { startedAt, endedAt, ...counts } = turn!;
  const { startedAt: startedWant, endedAt: endedWant, ...countsWant } = expected;
  expect(counts).toEqual(countsWant);
  expect(startedAt).toBeCloseTo(startedWant, 6);
  expect(endedAt).toBeCloseTo(endedWant, 6);
}

describe("replay", () => {
  it("hears a steady stream of 40 ms chunks every 40 ms as one turn without an underrun", () => {
    const turns = turnsOf(stream((i) => 1000 + 40 * i));
    expect(turns).toHaveLength(1);
    // The first chunk (960) is below the target: the second, at 40 ms, is rendered from the
    // quantum at 8 * 16/3 = 42.67 ms with 1920 queued. 48000 samples are 375 whole quanta:
    // quanta 8-382 play, 383 finds the queue dry and ends the turn.
    expectTurn(turns[0], {
      startedAt: 1000 + 8 * Q_MS,
      endedAt: 1000 + 383 * Q_MS,
      playedSamples: 50 * CHUNK,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
  });

  it("hears a 200 ms hole as one underrun of 200 ms of silence, and grows the buffer", () => {
    // Chunks 25 on arrive 200 ms late.
    const turns = turnsOf(stream((i) => 40 * i + (i >= 25 ? 200 : 0)));
    expect(turns).toHaveLength(1);
    // Playing from 42.67 ms, the first 25 chunks (1000 ms) run out 64 samples into the quantum
    // at 1040 ms (195). Chunk 25 (1200 ms, quantum 225) is below the target; chunk 26 (1240 ms)
    // is rendered from quantum 233 (1242.67 ms): silence from 1042.67 to 1242.67 ms, 4800
    // samples. The remaining 24000 samples play from quantum 233: 187 whole quanta, and
    // quantum 420 (2240 ms) is half played, then dry after the gateway's word.
    expectTurn(turns[0], {
      startedAt: 8 * Q_MS,
      endedAt: 420 * Q_MS,
      playedSamples: 50 * CHUNK,
      underruns: 1,
      underrunSamples: 4800,
      // From the 1920 it started with (two chunks), by the 3776 before chunk 25 came (then it
      // held chunk 25 back for 8 quanta): 5696, held at the ceiling.
      bufferSamples: 4800,
    });
  });

  it("hears a chunk 17 ms late as 61 ms of silence, and grows by the lateness alone", () => {
    // Chunks 25 on arrive 60 ms late. The first 25 run out at 1042.67 ms, as above. Chunk 25
    // (1060 ms, quantum 199) is below the target; chunk 26 (1100 ms) is rendered from quantum
    // 207: 64 silent samples in quantum 195 and 11 silent quanta, 1472 samples (61.33 ms). The
    // remaining 24000 samples play from quantum 207: 187 whole quanta, then half of quantum 394.
    // Nothing was queued for 448 of the 1472 (quanta 195-198), less than the least step: the
    // target grows from the 1920 it started with by 480, to 100 ms (three chunks, next time).
    const turns = turnsOf(stream((i) => 40 * i + (i >= 25 ? 60 : 0)));
    expect(turns).toHaveLength(1);
    expectTurn(turns[0], {
      startedAt: 8 * Q_MS,
      endedAt: 394 * Q_MS,
      playedSamples: 50 * CHUNK,
      underruns: 1,
      underrunSamples: 1472,
      bufferSamples: 1920 + 480,
    });
  });

  it("ends a turn when its audio runs dry once the gateway said the assistant stopped", () => {
    // 200 ms (4800 samples, above the target) plays at once: 37 whole quanta and half the 38th.
    const said = turnsOf([
      { t: 0, type: "chunk", samples: 4800 },
      { t: 0, type: "speaking-ended" },
    ]);
    expectTurn(said[0], {
      startedAt: 0,
      endedAt: 37 * Q_MS,
      playedSamples: 4800,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
    // Without the gateway's word, 2 s of silence (48000 samples) end it: 64 samples of quantum
    // 37 and 375 whole quanta after it.
    const unsaid = turnsOf([{ t: 0, type: "chunk", samples: 4800 }]);
    expect(unsaid).toHaveLength(1);
    expect(unsaid[0]!.endedAt).toBeCloseTo(412 * Q_MS, 6);
    expect(unsaid[0]!.underruns).toBe(0);
  });

  it("starts a turn at the first chunk's quantum plus the prebuffer's wait", () => {
    // 20 ms (480 samples) never reaches the 1440 target: the queue waits its 23 quanta, plays
    // 128 + 128 + 128 + 96 (quanta 23-26, 32 silent samples in the last), and with no word from
    // the gateway ends after 2 s of silence: 32 + 375 * 128 >= 48000, in quantum 401.
    const turns = turnsOf([{ t: 500, type: "chunk", samples: 480 }]);
    expect(turns).toHaveLength(1);
    expectTurn(turns[0], {
      startedAt: 500 + 23 * Q_MS,
      endedAt: 500 + 401 * Q_MS,
      playedSamples: 480,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
  });

  it("plays held audio at once when the gateway says the answer is over", () => {
    // The same 480 samples, and the gateway's word that nothing more is coming: no waiting,
    // quanta 0-3 play them and the turn ends dry in quantum 3.
    const turns = turnsOf([
      { t: 500, type: "chunk", samples: 480 },
      { t: 500, type: "speaking-ended" },
    ]);
    expect(turns).toHaveLength(1);
    expectTurn(turns[0], {
      startedAt: 500,
      endedAt: 500 + 3 * Q_MS,
      playedSamples: 480,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
  });

  it("ends a turn at a clear's time with what was played, and starts the next one afresh", () => {
    const turns = turnsOf([
      { t: 0, type: "chunk", samples: 12_000 },
      // Quanta 0-18 have played when the clear arrives (quantum 19 starts at 101.33 ms).
      { t: 100, type: "clear" },
      // Rendered from quantum 57 (304 ms), the first at or after 300 ms.
      { t: 300, type: "chunk", samples: 4800 },
      { t: 300, type: "speaking-ended" },
    ]);
    expect(turns).toHaveLength(2);
    expectTurn(turns[0], {
      startedAt: 0,
      endedAt: 100,
      playedSamples: 19 * 128,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
    expectTurn(turns[1], {
      startedAt: 57 * Q_MS,
      endedAt: (57 + 37) * Q_MS,
      playedSamples: 4800,
      underruns: 0,
      underrunSamples: 0,
      bufferSamples: 1440,
    });
  });

  it("replays each session with a player of its own", () => {
    const late = stream((i) => 40 * i + (i >= 25 ? 60 : 0));
    const result = replay({
      sampleRate: RATE,
      sessions: [{ events: late }, { events: [] }, { events: late }],
    }, AT_60_MS);
    expect(result.sessions.map((s) => s.turns.map((t) => t.underruns))).toEqual([[1], [], [1]]);
    expect(result.sessions[2]!.turns[0]!.bufferSamples).toBe(2400); // not grown twice
  });

  it("stops 5 s after the last event: a turn still playing then is left out", () => {
    expect(turnsOf([{ t: 0, type: "chunk", samples: 10 * 60 * RATE }])).toEqual([]);
  });
});

describe("parseTrace", () => {
  const valid = {
    sampleRate: RATE,
    sessions: [
      {
        events: [
          { t: 10.5, type: "chunk", samples: 960 },
          { t: 10.5, type: "speaking-ended" },
          { t: 20, type: "clear" },
        ],
      },
      { events: [] },
    ],
  };

  it("accepts a trace and keeps only what the replay reads", () => {
    expect(parseTrace(valid)).toEqual(valid);
    const extra = { ...valid, note: 1, sessions: [{ events: [{ t: 0, type: "clear", x: 1 }] }] };
    expect(parseTrace(extra)).toEqual({ sampleRate: RATE, sessions: [{ events: [{ t: 0, type: "clear" }] }] });
  });

  const event = (e: unknown) => ({ sampleRate: RATE, sessions: [{ events: [e] }] });
  it.each([
    [null, /the trace must be an object/],
    [[], /the trace must be an object/],
    [{ sessions: [] }, /sampleRate/],
    [{ sampleRate: "24000", sessions: [] }, /sampleRate/],
    [{ sampleRate: 0, sessions: [] }, /sampleRate/],
    [{ sampleRate: RATE }, /sessions must be an array/],
    [{ sampleRate: RATE, sessions: [1] }, /sessions\[0\] must be an object/],
    [{ sampleRate: RATE, sessions: [{}] }, /sessions\[0\]\.events must be an array/],
    [event({ type: "clear" }), /events\[0\]\.t must be a non-negative number/],
    [event({ t: -1, type: "clear" }), /events\[0\]\.t must be a non-negative number/],
    [event({ t: Infinity, type: "clear" }), /events\[0\]\.t must be a non-negative number/],
    [event({ t: "5", type: "clear" }), /events\[0\]\.t must be a non-negative number/],
    [event({ t: 0, type: "chunk" }), /events\[0\]\.samples must be a non-negative integer/],
    [event({ t: 0, type: "chunk", samples: 1.5 }), /samples must be a non-negative integer/],
    [event({ t: 0, type: "chunk", samples: -960 }), /samples must be a non-negative integer/],
    [event({ t: 0, type: "chunk", samples: "960" }), /samples must be a non-negative integer/],
    [event({ t: 0, type: "speaking" }), /events\[0\]\.type must be "chunk", "speaking-ended" or "clear"/],
    [event({ t: 0 }), /type must be/],
    [
      { sampleRate: RATE, sessions: [{ events: [{ t: 5, type: "clear" }, { t: 4, type: "clear" }] }] },
      /events\[1\]\.t goes back in time/,
    ],
  ])("rejects %j", (input, message) => {
    expect(() => parseTrace(input)).toThrow(message);
  });
});
