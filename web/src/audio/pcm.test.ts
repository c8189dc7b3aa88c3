import { describe, expect, it } from "vitest";
import {
  FRAME_MS,
  FRAME_SAMPLES,
  floatToInt16,
  floatToInt16Sample,
  int16ToFloat,
  int16ToLittleEndianBytes,
  littleEndianBytesToFloat,
  rmsInt16,
} from "./pcm";

describe("float <-> PCM16", () => {
  it("maps -1 and 1 to the ends of the Int16 range and 0 to 0", () => {
    expect(floatToInt16Sample(-1)).toBe(-32768);
    expect(floatToInt16Sample(1)).toBe(32767);
    expect(floatToInt16Sample(0)).toBe(0);
    expect(floatToInt16Sample(0.5)).toBe(16384); // round(0.5 * 32767) = 16383.5 -> 16384
    expect(floatToInt16Sample(-0.5)).toBe(-16384);
  });

  it("clamps values outside -1..1 instead of wrapping, and turns NaN into 0", () => {
    expect(floatToInt16Sample(1.7)).toBe(32767);
    expect(floatToInt16Sample(-3)).toBe(-32768);
    expect(floatToInt16Sample(Infinity)).toBe(32767);
    expect(floatToInt16Sample(-Infinity)).toBe(-32768);
    expect(floatToInt16Sample(NaN)).toBe(0);
  });

  it("round-trips within two quantisation steps (rounding plus the asymmetric scale)", () => {
    const input = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 7) * 0.9);
    const back = int16ToFloat(floatToInt16(input));
    for (let i = 0; i < input.length; i++) expect(Math.abs(back[i]! - input[i]!)).toBeLessThanOrEqual(2 / 32768);
  });

  it("writes little-endian bytes on the wire", () => {
    const bytes = new Uint8Array(int16ToLittleEndianBytes(Int16Array.from([0x0102, -2, 32767, -32768])));
    expect(Array.from(bytes)).toEqual([0x02, 0x01, 0xfe, 0xff, 0xff, 0x7f, 0x00, 0x80]);
  });

  it("copies a view into a fresh buffer rather than sending its whole backing buffer", () => {
    const backing = Int16Array.from([1, 2, 3, 4]);
    const view = backing.subarray(1, 3);
    expect(Array.from(new Uint8Array(int16ToLittleEndianBytes(view)))).toEqual([2, 0, 3, 0]);
  });

  it("reads little-endian bytes, ignoring a trailing odd byte", () => {
    const samples = littleEndianBytesToFloat(Uint8Array.from([0x00, 0x80, 0xff, 0x7f, 0x00, 0x40, 0x12]).buffer);
    expect(Array.from(samples)).toEqual([-1, 32767 / 32768, 0.5]);
  });

  it("measures RMS as a fraction of full scale", () => {
    expect(rmsInt16(new Int16Array(480))).toBe(0);
    expect(rmsInt16(new Int16Array(480).fill(-32768))).toBe(1);
    const half = Int16Array.from({ length: 480 }, (_, i) => (i % 2 ? 16384 : -16384));
    expect(rmsInt16(half)).toBeCloseTo(0.5, 6);
  });

  it("defines the wire frame as 480 samples, 20 ms at 24 kHz", () => {
    expect(FRAME_SAMPLES).toBe(480);
    expect(FRAME_MS).toBe(20);
  });
});
