import { describe, expect, it } from "vitest";
import { LinearResampler } from "./resampler";

function sine(freq: number, rate: number, seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => 0.8 * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Frequency from rising zero crossings: robust and independent of the resampler's maths. */
function frequency(samples: Float32Array, rate: number): number {
  const crossings: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (a < 0 && b >= 0) crossings.push(i - 1 + a / (a - b));
  }
  return ((crossings.length - 1) * rate) / (crossings[crossings.length - 1]! - crossings[0]!);
}

function inBlocks(resampler: LinearResampler, input: Float32Array, block: number): Float32Array {
  const parts: number[] = [];
  for (let at = 0; at < input.length; at += block) parts.push(...resampler.process(input.subarray(at, at + block)));
  return Float32Array.from(parts);
}

describe("LinearResampler", () => {
  it("halves the length from 48 kHz to 24 kHz, fed in 128-sample quanta", () => {
    const out = inBlocks(new LinearResampler(48_000, 24_000), sine(440, 48_000, 1), 128);
    expect(out.length).toBe(24_000);
  });

  it("keeps a sine's frequency", () => {
    for (const freq of [200, 440, 1000, 3000]) {
      const out = inBlocks(new LinearResampler(48_000, 24_000), sine(freq, 48_000, 1), 128);
      expect(frequency(out, 24_000)).toBeCloseTo(freq, 0);
    }
  });

  it("handles ratios that are not integers (44.1 kHz) without drift", () => {
    const out = inBlocks(new LinearResampler(44_100, 24_000), sine(500, 44_100, 2), 128);
    expect(Math.abs(out.length - 48_000)).toBeLessThanOrEqual(1);
    expect(frequency(out, 24_000)).toBeCloseTo(500, 0);
  });

  it("gives the same output whatever the block size (state carried across calls)", () => {
    const input = sine(700, 48_000, 0.1);
    const whole = new LinearResampler(48_000, 24_000).process(input);
    const blocks = inBlocks(new LinearResampler(48_000, 24_000), input, 37);
    expect(blocks.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(blocks[i]).toBeCloseTo(whole[i]!, 6);
  });

  it("upsamples 24 kHz to 48 kHz for playback on a 48 kHz context", () => {
    const out = inBlocks(new LinearResampler(24_000, 48_000), sine(440, 24_000, 1), 960);
    expect(Math.abs(out.length - 48_000)).toBeLessThanOrEqual(1);
    expect(frequency(out, 48_000)).toBeCloseTo(440, 0);
  });

  it("never writes past maxOutput", () => {
    const r = new LinearResampler(44_100, 48_000);
    const out = new Float32Array(r.maxOutput(128));
    for (let i = 0; i < 1000; i++) expect(r.processInto(new Float32Array(128), out)).toBeLessThanOrEqual(out.length);
  });
});
