import { describe, expect, it } from "vitest";
import { PlaybackQueue } from "./playbackQueue";
import { TurnMeter, type TurnEvent } from "./turnMeter";

const RATE = 24_000;
const QUANTUM = 128;
const ms = (samples: number) => (samples / RATE) * 1000;

/** A player as the worklet runs it: queue, meter, the buffer following the meter's target. */
class Player {
  readonly queue = new PlaybackQueue();
  readonly events: TurnEvent[] = [];
  private readonly buffer = new Float32Array(QUANTUM);
  private due = 0; // samples of time not yet rendered (time runs in whole quanta)

  constructor(readonly meter = new TurnMeter(RATE)) {
    this.adapt();
  }

  private adapt(): void {
    this.queue.prebufferSamples = this.meter.targetSamples;
    this.queue.maxWaitPulls = Math.ceil((2 * this.meter.targetSamples) / QUANTUM);
  }

  push(msOfAudio: number): void {
    this.meter.arrived(this.queue.queued);
    this.queue.push(new Float32Array(Math.round((msOfAudio / 1000) * RATE)).fill(0.1));
  }

  play(msOfTime: number): void {
    this.due += (msOfTime / 1000) * RATE;
    for (; this.due >= QUANTUM; this.due -= QUANTUM) {
      const queued = this.queue.queued;
      this.events.push(...this.meter.afterPull(this.queue.pull(this.buffer), QUANTUM, queued));
      this.adapt();
    }
  }

  ended(): Extract<TurnEvent, { type: "ended" }>[] {
    return this.events.filter((e): e is Extract<TurnEvent, { type: "ended" }> => e.type === "ended");
  }
}

describe("TurnMeter", () => {
  it("counts nothing on a steady stream: one turn, all of it played, no underrun", () => {
    const player = new Player();
    for (let i = 0; i < 50; i++) {
      player.push(40); // a chunk every 40 ms, as fast as it plays
      player.play(40);
    }
    player.meter.speakingEnded(); // the gateway's word: the turn ends when its audio has played
    player.play(100)
    const [turn] = player.ended();
    expect(player.events[0]).toEqual({ type: "started" });
    expect(turn).toMatchObject({ underruns: 0, underrunSamples: 0 });
    expect(ms(turn!.playedSamples)).toBeCloseTo(2000, -1);
  });

  it("counts a late chunk as one underrun with the silence it left, and grows the buffer", () => {
    const player = new Player();
    const start = player.meter.targetSamples;
    player.push(200);
    player.play(300); // 200 ms played, then 100 ms with nothing: the listener hears a gap
    player.push(200); // the late chunk, then the gateway's word that the turn is over
    player.meter.speakingEnded();
    player.play(500);
    const [turn] = player.ended();
    expect(turn!.underruns).toBe(1);
    // The gap: from the audio running out until it resumes, the buffer's refill included.
    expect(ms(turn!.underrunSamples)).toBeGreaterThanOrEqual(100 - ms(QUANTUM)); // time is in quanta
    expect(ms(turn!.underrunSamples)).toBeLessThan(100 + ms(start) + 20);
    expect(turn!.bufferSamples).toBeGreaterThan(start);
    expect(player.meter.total.underruns).toBe(1);
  });

  it("fits the buffer to what a gapless turn used, plus spare, from the next turn on", () => {
    const player = new Player(new TurnMeter(RATE, { startBufferMs: 100 }));
    // 40 ms chunks every 32 ms (a little faster than they play, as the gateway sends them):
    // playing starts on the third, 120 ms queued, and the queue never runs lower than just
    // before the fourth arrives: 120 - 32 ms, within a quantum.
    for (let i = 0; i < 40; i++) {
      player.push(40);
      player.play(32);
    }
    player.meter.speakingEnded();
    player.play(2000);
    const [turn] = player.ended();
    expect(turn).toMatchObject({ underruns: 0 });
    // It used about 32 ms of the 120: fitted to that and 40 ms to spare, about 72 ms. The next
    // turn starts on two chunks.
    expect(ms(turn!.bufferSamples)).toBeGreaterThan(70);
    expect(ms(turn!.bufferSamples)).toBeLessThan(80);
  });

  it("keeps its buffer when the turn used it, and never fits below its floor", () => {
    // A 40 ms chunk every 40 ms, but each fifth 60 ms late, the one behind it held up with it
    // (TCP keeps order): playing starts at 80 ms on three chunks, and before each late one
    // arrives only 20 ms are left. It used 100 of its 120: no fit below 100.
    const jittery = new Player(new TurnMeter(RATE, { startBufferMs: 100 }));
    let now = 0;
    for (let k = 0; k < 40; k++) {
      const due = 40 * k + (k % 5 === 4 ? 60 : 0);
      const at = Math.max(now, due);
      jittery.play(at - now);
      now = at;
      jittery.push(40);
    }
    jittery.meter.speakingEnded();
    jittery.play(2000);
    expect(jittery.ended()[0]).toMatchObject({ underruns: 0 });
    expect(ms(jittery.meter.targetSamples)).toBeCloseTo(100, 0);

    // Far ahead: it used only the 16 ms until the next chunk came; with 10 ms to spare that
    // would be 26 ms, held at the 40 ms floor.
    const options = { startBufferMs: 100, minBufferMs: 40, spareMs: 10 };
    const ahead = new Player(new TurnMeter(RATE, options));
    ahead.push(200);
    for (let i = 0; i < 40; i++) {
      ahead.push(40);
      ahead.play(20);
    }
    ahead.meter.speakingEnded();
    ahead.play(3000);
    expect(ms(ahead.meter.targetSamples)).toBeCloseTo(40, 0);
  });

  it("fits nothing on a short turn, a turn with a gap, or one cut by a barge-in", () => {
    const short = new Player(new TurnMeter(RATE, { startBufferMs: 100 }));
    for (let i = 0; i < 20; i++) { // 800 ms of audio: under the 1 s a fit needs
      short.push(40);
      short.play(32);
    }
    short.meter.speakingEnded();
    short.play(1000);
    expect(short.ended()).toHaveLength(1);
    expect(ms(short.meter.targetSamples)).toBeCloseTo(100, 0);

    const cut = new Player(new TurnMeter(RATE, { startBufferMs: 100 }));
    for (let i = 0; i < 40; i++) {
      cut.push(40);
      cut.play(32);
    }
    expect(cut.meter.cleared()).toMatchObject({ type: "ended", underruns: 0 });
    expect(ms(cut.meter.targetSamples)).toBeCloseTo(100, 0);
  });

  it("never grows the buffer past its ceiling", () => {
    const meter = new TurnMeter(RATE, { maxBufferMs: 120 });
    const player = new Player(meter);
    for (let i = 0; i < 20; i++) {
      player.push(40);
      player.play(400); // every chunk late
    }
    expect(ms(meter.targetSamples)).toBeCloseTo(120, 0);
  });

  it("ends the turn at a barge-in with what was played, and starts a new one after", () => {
    const player = new Player();
    player.push(500);
    player.play(200);
    const ended = player.meter.cleared();
    player.queue.clear();
    expect(ended).toMatchObject({ type: "ended", underruns: 0 });
    expect(ms((ended as Extract<TurnEvent, { type: "ended" }>).playedSamples)).toBeCloseTo(200, -1);
    expect(player.meter.cleared()).toBeNull(); // nothing playing: nothing to end
    player.push(100);
    player.play(50);
    expect(player.events.filter((e) => e.type === "started")).toHaveLength(2);
  });
});

// The meter alone, one quantum at a time: at 24 kHz it starts with a 60 ms target (1440
// samples), its least step is 20 ms (480), its ceiling 200 ms (4800).
describe("TurnMeter jitter buffer growth", () => {
  /** A turn that starts, then goes `silent` samples without audio before audio comes back
   * (how much was queued left unsaid: the buffer grows from its target by the whole gap). */
  function gap(meter: TurnMeter, silent: number): void {
    meter.afterPull(128, 128); // the turn starts
    meter.afterPull(128 - (silent % 128), 128); // the audio runs out inside this quantum
    for (let i = 0; i < Math.floor(silent / 128); i++) meter.afterPull(0, 128);
    meter.afterPull(128, 128); // audio again: the underrun is counted
  }

  it("grows by the silence heard: a 50 ms gap adds 50 ms, not 20", () => {
    const meter = new TurnMeter(RATE);
    gap(meter, 1200); // 48 silent samples ending the second quantum, 9 * 128 more: 50 ms
    expect(meter.total).toEqual({ underruns: 1, underrunSamples: 1200 });
    expect(meter.targetSamples).toBe(1440 + 1200); // 110 ms (a fixed step gave 80 ms)
  });

  it("grows by at least growMs after a gap of a few samples", () => {
    const meter = new TurnMeter(RATE);
    gap(meter, 8); // 120 samples played of the second quantum, 8 silent
    expect(meter.total).toEqual({ underruns: 1, underrunSamples: 8 });
    expect(meter.targetSamples).toBe(1440 + 480);
  });

  it("holds the ceiling whatever the gap", () => {
    const meter = new TurnMeter(RATE, { startBufferMs: 180 }); // 4320
    gap(meter, 1200); // 4320 + 1200 = 5520: held at 4800
    expect(meter.targetSamples).toBe(4800);
    const capped = new TurnMeter(RATE, { maxBufferMs: 100 }); // 2400
    gap(capped, 8); // a tiny gap too: 1440 + 480, then 1920 + 480, then held
    gap(capped, 8);
    gap(capped, 8);
    expect(capped.targetSamples).toBe(2400);
  });

  it("grows from what was queued at the start, by the time nothing was queued", () => {
    const meter = new TurnMeter(RATE);
    meter.afterPull(128, 128, 1920); // starts on two 40 ms chunks: 80 ms queued, not 60
    meter.afterPull(64, 128, 64); // runs dry: 64 silent
    for (let i = 0; i < 3; i++) meter.afterPull(0, 128, 0); // 384 more, nothing queued
    for (let i = 0; i < 8; i++) meter.afterPull(0, 128, 960); // a chunk held back to refill
    meter.afterPull(128, 128, 1920);
    // The listener heard 64 + 384 + 1024 = 1472; the network left 448 missing, under the least
    // step: 1920 + 480, so the next start waits for three chunks (2880).
    expect(meter.total).toEqual({ underruns: 1, underrunSamples: 1472 });
    expect(meter.targetSamples).toBe(2400);
    // It resumed on 1920, below the new target: the next gap grows from the target.
    for (let i = 0; i < 14; i++) meter.afterPull(128, 128, 1792 - 128 * i);
    for (let i = 0; i < 10; i++) meter.afterPull(0, 128, 0); // 1280 silent, nothing queued
    meter.afterPull(128, 128, 2880);
    expect(meter.targetSamples).toBe(2400 + 1280);
  });

  it("after a gap, fits nothing for that turn: the grown target stands", () => {
    const meter = new TurnMeter(RATE);
    gap(meter, 1200);
    for (let i = 0; i < 300; i++) {
      meter.arrived(4800); // far ahead: this turn alone would fit it to the floor
      meter.afterPull(128, 128, 4800);
    }
    meter.speakingEnded();
    meter.afterPull(0, 128, 0);
    expect(meter.inTurn).toBe(false);
    expect(meter.targetSamples).toBe(2640);
  });
});

describe("TurnMeter turn boundaries", () => {
  it("does not count the pause between two turns as a gap", () => {
    const player = new Player();
    player.push(300);
    player.meter.speakingEnded();
    player.play(400); // the greeting plays out
    player.play(700); // a pause, then the answer
    player.push(300);
    player.meter.speakingEnded();
    player.play(400);
    const turns = player.ended();
    expect(turns).toHaveLength(2);
    expect(turns.map((t) => t.underruns)).toEqual([0, 0]);
  });

  it("without word from the gateway, ends a turn after two seconds of silence", () => {
    const player = new Player();
    player.push(300);
    player.play(1500);
    expect(player.ended()).toHaveLength(0); // could still be a long underrun
    player.play(1000);
    expect(player.ended()).toHaveLength(1);
  });
});
