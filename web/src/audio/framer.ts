import { FRAME_SAMPLES, floatToInt16Into } from "./pcm";

/**
 * Cuts a stream of float blocks of any size (the worklet's 128-sample quanta, or resampled blocks
 * of varying length) into fixed Int16 frames, carrying the remainder across calls: every input
 * sample lands in exactly one frame, in order.
 */
export class Framer {
  private frame: Int16Array;
  private filled = 0;

  constructor(
    private readonly onFrame: (frame: Int16Array) => void,
    readonly frameSize: number = FRAME_SAMPLES,
  ) {
    this.frame = new Int16Array(frameSize);
  }

  push(samples: Float32Array, count: number = samples.length): void {
    let read = 0;
    while (read < count) {
      const take = Math.min(count - read, this.frameSize - this.filled);
      floatToInt16Into(samples, this.frame, this.filled, take, read);
      this.filled += take;
      read += take;
      if (this.filled === this.frameSize) {
        const full = this.frame;
        // A fresh buffer per frame: the full one is transferred to the main thread.
        this.frame = new Int16Array(this.frameSize);
        this.filled = 0;
        this.onFrame(full);
      }
    }
  }

  /** Samples waiting for the next frame. */
  get pending(): number {
    return this.filled;
  }

  reset(): void {
    this.filled = 0;
  }
}
