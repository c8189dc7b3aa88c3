/**
 * A streaming linear-interpolation resampler: blocks in, blocks out, with the fractional position
 * and the last sample carried across calls so block boundaries leave no clicks or drift.
 */
export class LinearResampler {
  readonly step: number;
  // Position of the next output sample in the current block's indices; -1 is the previous block's
  // last sample.
  private position = 0;
  private previous = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    if (!(fromRate > 0 && toRate > 0)) throw new RangeError("sample rates must be positive");
    this.step = fromRate / toRate;
  }

  /** The most output samples one call can produce for an input block of `inputLength`. */
  maxOutput(inputLength: number): number {
    return Math.ceil((inputLength + 1) / this.step) + 1;
  }

  /** Resamples `input` into `out` (sized with `maxOutput`); returns the samples written. */
  processInto(input: Float32Array, out: Float32Array): number {
    const last = input.length - 1;
    if (last < 0) return 0;
    let written = 0;
    let t = this.position;
    while (t <= last) {
      const i = Math.floor(t);
      const frac = t - i;
      const s0 = i < 0 ? this.previous : input[i]!;
      const s1 = i + 1 <= last ? input[i + 1]! : s0;
      out[written++] = s0 + (s1 - s0) * frac;
      t += this.step;
    }
    this.position = t - input.length;
    this.previous = input[last]!;
    return written;
  }

  process(input: Float32Array): Float32Array {
    const out = new Float32Array(this.maxOutput(input.length));
    return out.subarray(0, this.processInto(input, out));
  }

  reset(): void {
    this.position = 0;
    this.previous = 0;
  }
}
