import { describe, expect, it } from "vitest";
import { Framer } from "./framer";
import { floatToInt16Sample } from "./pcm";

/** A ramp whose every sample is distinct after conversion, so loss or duplication shows. */
function ramp(start: number, length: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => (((start + i) % 60000) - 30000) / 32768);
}

function collect(blocks: number[]): { frames: Int16Array[]; input: Float32Array; framer: Framer } {
  const frames: Int16Array[] = [];
  const framer = new Framer((frame) => frames.push(frame));
  const total = blocks.reduce((a, b) => a + b, 0);
  const input = ramp(0, total);
  let at = 0;
  for (const size of blocks) {
    framer.push(input.subarray(at, at + size));
    at += size;
  }
  return { frames, input, framer };
}

describe("Framer", () => {
  it("cuts 128-sample quanta into exact 480-sample frames with no loss or duplication", () => {
    const { frames, input, framer } = collect(Array(150).fill(128)); // 19,200 samples = 40 frames
    expect(frames).toHaveLength(40);
    expect(frames.every((f) => f.length === 480)).toBe(true);
    const out = frames.flatMap((f) => Array.from(f));
    expect(out).toEqual(Array.from(input, floatToInt16Sample));
    expect(framer.pending).toBe(0);
  });

  it("carries the remainder across arbitrary block boundaries", () => {
    const sizes = [1, 479, 480, 481, 7, 128, 1000, 3, 0, 361];
    const { frames, input, framer } = collect(sizes);
    const total = sizes.reduce((a, b) => a + b, 0); // 2940 = 6 frames + 60
    expect(frames).toHaveLength(Math.floor(total / 480));
    expect(framer.pending).toBe(total % 480);
    const out = frames.flatMap((f) => Array.from(f));
    expect(out).toEqual(Array.from(input.subarray(0, frames.length * 480), floatToInt16Sample));
  });

  it("hands over a fresh buffer per frame (frames are transferred, never reused)", () => {
    const { frames } = collect([960]);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.buffer).not.toBe(frames[1]!.buffer);
    expect(frames[0]![0]).not.toBe(frames[1]![0]);
  });

  it("honours a count smaller than the block (the resampler's partly filled buffer)", () => {
    const frames: Int16Array[] = [];
    const framer = new Framer((f) => frames.push(f), 4);
    framer.push(Float32Array.from([0.1, 0.2, 0.3, 9, 9]), 3);
    framer.push(Float32Array.from([0.4, 9]), 1);
    expect(frames).toHaveLength(1);
    expect(Array.from(frames[0]!)).toEqual([0.1, 0.2, 0.3, 0.4].map(floatToInt16Sample));
  });
});
