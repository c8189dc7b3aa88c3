/**
 * The assistant's audio waiting to be played: chunks of float samples played back to back.
 *
 * `pull` fills one render quantum: queued samples first, silence when the queue runs dry. After
 * running dry it waits until `prebufferSamples` are queued again (or `maxWaitPulls` quanta have
 * passed, so a short final chunk still plays): network jitter then costs one short pause instead
 * of a stutter on every late chunk. `release` ends the wait early (the gateway said the answer is
 * over, so nothing more is coming to fill it). `clear` drops everything at once (barge-in, stop).
 */
export interface PlaybackQueueOptions {
  prebufferSamples?: number;
  maxWaitPulls?: number;
}

export class PlaybackQueue {
  private chunks: Float32Array[] = [];
  private head = 0;
  private offset = 0; // read position inside chunks[head]
  private queuedSamples = 0;
  private starved = true;
  private waited = 0;
  prebufferSamples: number; // adjustable: the jitter buffer adapts (turnMeter.ts)
  maxWaitPulls: number;

  constructor(options: PlaybackQueueOptions = {}) {
    this.prebufferSamples = options.prebufferSamples ?? 0;
    this.maxWaitPulls = options.maxWaitPulls ?? 0;
  }

  get queued(): number {
    return this.queuedSamples;
  }

  push(chunk: Float32Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queuedSamples += chunk.length;
  }

  /** No more audio is coming for now: stop holding back what is queued, play it at once. */
  release(): void {
    if (this.queuedSamples > 0) {
      this.starved = false;
      this.waited = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.queuedSamples = 0;
    this.starved = true;
    this.waited = 0;
  }

  /** Fills `out` completely; returns how many of its samples came from the queue. */
  pull(out: Float32Array): number {
    if (this.starved) {
      if (this.queuedSamples === 0) {
        this.waited = 0;
        out.fill(0);
        return 0;
      }
      if (this.queuedSamples < this.prebufferSamples && this.waited < this.maxWaitPulls) {
        this.waited++;
        out.fill(0);
        return 0;
      }
      this.starved = false;
      this.waited = 0;
    }
    let written = 0;
    while (written < out.length && this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!;
      const take = Math.min(out.length - written, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + take), written);
      written += take;
      this.offset += take;
      if (this.offset === chunk.length) {
        this.head++;
        this.offset = 0;
      }
    }
    this.queuedSamples -= written;
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    if (written < out.length) {
      out.fill(0, written);
      this.starved = true;
    }
    return written;
  }
}
