import { describe, expect, it } from "vitest";
import { PLAYBACK_DEFAULTS, Player, QUANTUM } from "./player";
import type { TurnEvent } from "./turnMeter";
import type { PlaybackReport } from "./worklet-names";

// At 24 kHz the meter starts with a 60 ms target (1440 samples). An underrun grows it from what
// the queue held when it last started playing, by the time the queue stood empty, at least
// 20 ms (480), at most to 200 ms (4800). The queue waits at most ceil(2 * target / 128) quanta:
// 23 at 1440, 36 at 2280.
const RATE = 24_000;
// The numbers below are worked out for a 60 ms start (two chunks), not the browser's default.
const AT_60_MS = { startBufferMs: 60 };

function audio(samples: number): Float32Array {
  return new Float32Array(samples).fill(0.5);
}

/** Pulls `quanta` quanta; returns every event and how many quanta carried any audio. */
function pull(player: Player, quanta: number): { events: TurnEvent[]; audible: number } {
  const out = new Float32Array(QUANTUM);
  const events: TurnEvent[] = [];
  let audible = 0;
  for (let i = 0; i < quanta; i++) {
    events.push(...player.pull(out));
    if (out.some((s) => s !== 0)) audible++;
  }
  return { events, audible };
}

describe("Player", () => {
  it("holds back the meter's grown target after an underrun, and waits at most twice that", () => {
    const player = new Player(RATE, AT_60_MS);
    expect(player.targetSamples).toBe(1440);
    player.push(audio(1800)); // above the 1440 target: plays at once
    expect(pull(player, 1)).toEqual({ events: [{ type: "started" }], audible: 1 });
    // 1800 = 14 quanta and 8 samples: quanta 1-14 play, the 14th ends in 120 samples of silence.
    expect(pull(player, 14).audible).toBe(14);
    pull(player, 1); // a whole quantum of silence: 248 silent samples so far
    player.push(audio(1800));
    expect(pull(player, 1).audible).toBe(1); // audio again: an underrun of 248 samples
    expect(player.total).toEqual({ underruns: 1, underrunSamples: 248 });
    // It had started with 1800 queued, and 248 (less than the least step) were missing.
    expect(player.targetSamples).toBe(1800 + 480);
    // The second chunk plays out (1672 left: 13 quanta and 8 samples), then runs dry.
    expect(pull(player, 14).audible).toBe(14);
    // Now 1800 samples are below the grown target: the queue holds them back, for at most
    // ceil(2 * 2280 / 128) = 36 quanta (at the old target it would have played at once).
    player.push(audio(1800));
    expect(pull(player, 36).audible).toBe(0);
    expect(player.queued).toBe(1800);
    expect(pull(player, 1).audible).toBe(1);
    // The listener heard 120 + 36 * 128 = 4728 samples of silence, but audio was queued for
    // 4608 of them, held back by the buffer itself: the network left 120 missing, so the target
    // grows by the least step again.
    expect(player.total).toEqual({ underruns: 2, underrunSamples: 248 + 4728 });
    expect(player.targetSamples).toBe(2280 + 480);
  });

  it("grows from what the queue held by the gap, not from the target, and keeps it after a clear", () => {
    const player = new Player(RATE, AT_60_MS);
    player.push(audio(960)); // one 40 ms chunk: below the 1440 target, held back
    expect(pull(player, 1).audible).toBe(0);
    player.push(audio(960)); // two: 1920 queued, so the buffer starts with 80 ms, not 60
    expect(pull(player, 15).audible).toBe(15); // 1920 = 15 quanta
    expect(pull(player, 9).audible).toBe(0); // nothing queued: 9 * 128 = 1152 silent (48 ms)
    player.push(audio(1920)); // above the target: plays at once
    expect(pull(player, 1).audible).toBe(1);
    expect(player.total).toEqual({ underruns: 1, underrunSamples: 1152 });
    // What would have covered the gap: 1920 + 1152 (128 ms). From the target, 1440 + 1152 =
    // 2592 would still start on three chunks (2880), 120 ms, short of it.
    expect(player.targetSamples).toBe(3072);
    // A barge-in ends the turn with the grown target, and the next turn starts from it.
    expect(player.clear()).toEqual([
      { type: "ended", playedSamples: 2048, underruns: 1, underrunSamples: 1152, bufferSamples: 3072 },
    ]);
    expect(player.targetSamples).toBe(3072);
    player.push(audio(2880)); // three chunks: below 3072, held back
    expect(pull(player, 1).audible).toBe(0);
  });

  it("ends the turn at a clear with what was played, and plays nothing after", () => {
    const player = new Player(RATE, AT_60_MS);
    player.push(audio(4800));
    expect(pull(player, 10).events).toEqual([{ type: "started" }]);
    expect(player.clear()).toEqual([
      { type: "ended", playedSamples: 1280, underruns: 0, underrunSamples: 0, bufferSamples: 1440 },
    ]);
    expect(player.queued).toBe(0);
    expect(player.inTurn).toBe(false);
    expect(pull(player, 5)).toEqual({ events: [], audible: 0 });
    expect(player.clear()).toEqual([]); // nothing playing: nothing to end
  });

  it("ends the turn when the queue runs dry once the gateway said the assistant stopped", () => {
    const player = new Player(RATE, AT_60_MS);
    player.push(audio(300)); // below the target: held back
    expect(pull(player, 5)).toEqual({ events: [], audible: 0 });
    player.speakingEnded(); // nothing more is coming: the held audio plays at once
    // 300 = 128 + 128 + 44: the third quantum ends dry, and so does the turn.
    expect(pull(player, 3).events).toEqual([
      { type: "started" },
      { type: "ended", playedSamples: 300, underruns: 0, underrunSamples: 0, bufferSamples: 1440 },
    ]);
  });

  it("plays the tail it was holding when the gateway says the answer is over, in the same turn", () => {
    const player = new Player(RATE, AT_60_MS);
    player.push(audio(1800));
    expect(pull(player, 15).events).toEqual([{ type: "started" }]); // ran dry: 120 silent
    player.push(audio(500)); // the last words, below the target: held back
    expect(pull(player, 2)).toEqual({ events: [], audible: 0 }); // 120 + 256 silent so far
    player.speakingEnded();
    // One turn: the tail plays (an underrun of 376 samples before it), then the turn ends dry.
    // 500 = 3 quanta and 116 samples. Of the 376, 256 were the buffer holding the tail back: the
    // target grows from the 1800 it started with by the least step.
    expect(pull(player, 4)).toEqual({
      events: [
        {
          type: "ended",
          playedSamples: 2300,
          underruns: 1,
          underrunSamples: 376,
          bufferSamples: 2280,
        },
      ],
      audible: 4,
    });
  });
});

describe("playback worklet", () => {
  it("is the player's plumbing: chunks in, turns and queue depth out, same formats", async () => {
    // A stand-in for the AudioWorkletGlobalScope, set before the worklet module is evaluated.
    const posted: PlaybackReport[] = [];
    let Processor: (new () => {
      port: { onmessage: (e: { data: unknown }) => void };
      process(i: Float32Array[][], o: Float32Array[][]): boolean;
    }) | null = null;
    Object.assign(globalThis, {
      sampleRate: RATE,
      AudioWorkletProcessor: class {
        readonly port = { onmessage: null, postMessage: (m: PlaybackReport) => posted.push(m) };
      },
      registerProcessor: (_name: string, ctor: typeof Processor) => (Processor = ctor),
    });
    await import("./playback.worklet");
    const node = new Processor!();
    const left = new Float32Array(QUANTUM);
    const right = new Float32Array(QUANTUM);
    node.port.onmessage({ data: { type: "chunk", samples: audio(4800) } });
    for (let i = 0; i < 16; i++) node.process([], [[left, right]]);
    expect(left[0]).toBe(0.5);
    expect(right).toEqual(left); // every channel gets the first one's samples
    // The browser's player starts with a 100 ms target (PLAYBACK_DEFAULTS).
    const queue = { type: "queue", targetSamples: 2400, underruns: 0, underrunSamples: 0 };
    expect(posted).toEqual([
      { type: "turn-started" },
      { ...queue, queuedSamples: 4800 - 16 * QUANTUM },
    ]);
    posted.length = 0;
    node.port.onmessage({ data: { type: "clear" } });
    expect(posted).toEqual([
      { type: "turn-ended", playedSamples: 2048, underruns: 0, underrunSamples: 0, bufferSamples: 2400 },
      { ...queue, queuedSamples: 0 },
    ]);
  });

  it("in the browser waits for 100 ms, the third 40 ms chunk, before a turn starts playing", () => {
    expect(PLAYBACK_DEFAULTS.startBufferMs).toBe(100);
    const player = new Player(RATE);
    expect(player.targetSamples).toBe(2400);
    const chunk = () => new Float32Array(960).fill(0.5);
    player.push(chunk());
    player.push(chunk());
    expect(pull(player, 1).audible).toBe(0); // 80 ms queued: held
    player.push(chunk());
    expect(pull(player, 1).audible).toBe(1); // 120 ms: plays
  });
});
