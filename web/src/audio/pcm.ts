/** PCM16 little-endian <-> float samples, and the RMS used by meters and stats. */

export const WIRE_SAMPLE_RATE = 24_000;
export const FRAME_SAMPLES = 480; // 20 ms at 24 kHz
export const FRAME_MS = (FRAME_SAMPLES / WIRE_SAMPLE_RATE) * 1000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One float sample (nominally -1..1) to Int16, clamped; NaN becomes 0. */
export function floatToInt16Sample(value: number): number {
  if (!(value === value)) return 0; // NaN
  const clamped = value < -1 ? -1 : value > 1 ? 1 : value;
  // Asymmetric scale so both -1 and 1 reach the ends of the Int16 range exactly.
  return clamped < 0 ? Math.round(clamped * 0x8000) : Math.round(clamped * 0x7fff);
}

/** Writes `count` floats from `input` into `out` starting at `outOffset`. */
export function floatToInt16Into(
  input: Float32Array,
  out: Int16Array,
  outOffset = 0,
  count = input.length,
  inOffset = 0,
): void {
  for (let i = 0; i < count; i++) out[outOffset + i] = floatToInt16Sample(input[inOffset + i]!);
}

export function floatToInt16(input: Float32Array): Int16Array {
  const out = new Int16Array(input.length);
  floatToInt16Into(input, out);
  return out;
}

export function int16ToFloat(input: Int16Array): Float32Array {
  const out = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = input[i]! / 0x8000;
  return out;
}

/** The wire bytes of a frame: PCM16 little-endian whatever the platform's byte order. */
export function int16ToLittleEndianBytes(samples: Int16Array): ArrayBuffer {
  if (LITTLE_ENDIAN && samples.byteOffset === 0 && samples.byteLength === samples.buffer.byteLength) {
    return samples.buffer as ArrayBuffer;
  }
  const out = new ArrayBuffer(samples.length * 2);
  const view = new DataView(out);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return out;
}

/** Wire bytes (PCM16 LE) to float samples; a trailing odd byte is ignored. */
export function littleEndianBytesToFloat(bytes: ArrayBuffer): Float32Array {
  const count = bytes.byteLength >> 1;
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN) {
    const samples = new Int16Array(bytes, 0, count);
    for (let i = 0; i < count; i++) out[i] = samples[i]! / 0x8000;
  } else {
    const view = new DataView(bytes);
    for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true) / 0x8000;
  }
  return out;
}

/** Root mean square of Int16 samples, as a 0..1 fraction of full scale. */
export function rmsInt16(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]! / 0x8000;
    sum += v * v;
  }
  return Math.sqrt(sum / samples.length);
}

export function rmsFloat(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / samples.length);
}
