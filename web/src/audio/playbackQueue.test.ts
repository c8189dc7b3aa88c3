import { describe, expect, it } from "vitest";
import { PlaybackQueue } from "./playbackQueue";

const QUANTUM = 128;

function chunk(start: number, length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => (start + i + 1) / 100_000);
}

function drain(queue: PlaybackQueue, quanta: number): number[] {
  const out: number[] = [];
  const buffer = new Float32Array(QUANTUM);
  for (let i = 0; i < quanta; i++) {
    queue.pull(buffer);
    out.push(...buffer);
  }
  return out;
}

describe("PlaybackQueue", () => {
  it("plays chunks back to back: the output is exactly the concatenated input", () => {
    const queue = new PlaybackQueue();
    const sizes = [960, 1, 127, 128, 129, 500, 960, 3];
    let at = 0;
    const input: number[] = [];
    for (const size of sizes) {
      const c = chunk(at, size);
      queue.push(c);
      input.push(...c);
      at += size;
    }
    expect(queue.queued).toBe(at);
    const quanta = Math.ceil(at / QUANTUM);
    const out = drain(queue, quanta);
    expect(out.slice(0, at)).toEqual(input);
    expect(out.slice(at).every((v) => v === 0)).toBe(true);
    expect(queue.queued).toBe(0);
  });

  it("outputs silence on underrun and resumes with the next chunk, losing nothing", () => {
    const queue = new PlaybackQueue();
    const first = chunk(0, 200);
    queue.push(first);
    const buffer = new Float32Array(QUANTUM);
    expect(queue.pull(buffer)).toBe(128);
    expect(queue.pull(buffer)).toBe(72); // 72 real samples, then silence
    expect(Array.from(buffer.subarray(0, 72))).toEqual(Array.from(first.subarray(128)));
    expect(buffer.subarray(72).every((v) => v === 0)).toBe(true);
    expect(queue.pull(buffer)).toBe(0);
    expect(buffer.every((v) => v === 0)).toBe(true);
    const second = chunk(1000, 128);
    queue.push(second);
    expect(queue.pull(buffer)).toBe(128);
    expect(Array.from(buffer)).toEqual(Array.from(second));
  });

  it("clear drops everything queued at once", () => {
    const queue = new PlaybackQueue();
    for (let i = 0; i < 20; i++) queue.push(chunk(i * 960, 960));
    drain(queue, 3);
    queue.clear();
    expect(queue.queued).toBe(0);
    expect(drain(queue, 10).every((v) => v === 0)).toBe(true);
    const next = chunk(5, 128);
    queue.push(next); // audio after the clear plays from its first sample
    expect(drain(queue, 1)).toEqual(Array.from(next));
  });

  it("after running dry, waits for the prebuffer (or the wait limit) before playing again", () => {
    const queue = new PlaybackQueue({ prebufferSamples: 300, maxWaitPulls: 2 });
    const buffer = new Float32Array(QUANTUM);
    queue.push(chunk(0, 200));
    expect(queue.pull(buffer)).toBe(0); // 200 < 300: wait
    queue.push(chunk(200, 200));
    expect(queue.pull(buffer)).toBe(128); // 400 queued: play
    expect(Array.from(buffer)).toEqual(Array.from(chunk(0, 128)));

    const short = new PlaybackQueue({ prebufferSamples: 300, maxWaitPulls: 2 });
    short.push(chunk(0, 50)); // a short last chunk still plays after the wait limit
    expect(short.pull(buffer)).toBe(0);
    expect(short.pull(buffer)).toBe(0);
    expect(short.pull(buffer)).toBe(50);
    expect(Array.from(buffer.subarray(0, 50))).toEqual(Array.from(chunk(0, 50)));
  });
});
