/**
 * The assistant's player: the queue of audio waiting to be played and the meter that counts what
 * the listener hears, wired together. The playback worklet runs one per context; the replay
 * (replay.ts) runs one per recorded session, so a benchmark measures this very logic.
 *
 * The jitter buffer follows the meter: after running dry the queue holds back the meter's target
 * before playing again, waiting at most twice that (so a short last chunk still plays).
 */
import { PlaybackQueue } from "./playbackQueue";
import { TurnMeter, type TurnEvent, type TurnMeterOptions } from "./turnMeter";

/** The Web Audio render quantum: `pull` is called once per quantum of this many samples. */
export const QUANTUM = 128;

/** What the browser's player (and the benchmark's replay of it) starts with. A turn starts
 * playing once 100 ms are queued, which with 40 ms chunks is the third chunk: replaying the
 * arrival times of 60 sessions over a 40 ± 30 ms link, 60 ms (two chunks) left 55 gaps where
 * 100 ms left none, for 40 ms more at the start of a turn (docs/benchmarks.md, audio_quality).
 * On a steady link each turn played without a gap fits the target to what it used, plus 40 ms
 * to spare (turnMeter.ts): two chunks instead of three from the next turn on. */
export const PLAYBACK_DEFAULTS: TurnMeterOptions = { startBufferMs: 100 };

export class Player {
  private readonly queue = new PlaybackQueue();
  private readonly meter: TurnMeter;

  constructor(sampleRate: number, options: TurnMeterOptions = PLAYBACK_DEFAULTS) {
    this.meter = new TurnMeter(sampleRate, options);
    this.adapt();
  }

  /** Samples waiting to be played. */
  get queued(): number {
    return this.queue.queued;
  }

  /** The jitter buffer's current target, in samples. */
  get targetSamples(): number {
    return this.meter.targetSamples;
  }

  /** Every underrun since the player started, and the silence they inserted. */
  get total(): { readonly underruns: number; readonly underrunSamples: number } {
    return this.meter.total;
  }

  /** A turn has started playing and has not ended yet. */
  get inTurn(): boolean {
    return this.meter.inTurn;
  }

  push(samples: Float32Array): void {
    if (samples.length === 0) return;
    this.meter.arrived(this.queue.queued);
    this.queue.push(samples);
  }

  /** The gateway says the assistant stopped speaking: its last audio is queued by now, so
   * audio held back to refill the jitter buffer plays at once (nothing more will fill it), and
   * the turn ends when the queue runs dry. */
  speakingEnded(): void {
    this.meter.speakingEnded();
    this.queue.release();
  }

  /** Drops everything queued (barge-in, stop); ends the turn in progress, if any. */
  clear(): TurnEvent[] {
    this.queue.clear();
    const ended = this.meter.cleared();
    if (!ended) return [];
    this.adapt();
    return [ended];
  }

  /** Renders one quantum into `out` (silence where there is no audio); returns what happened. */
  pull(out: Float32Array): TurnEvent[] {
    const target = this.meter.targetSamples;
    const queued = this.queue.queued;
    const events = this.meter.afterPull(this.queue.pull(out), out.length, queued);
    // The target moves on an underrun or at a turn's end; turn events re-adapt too, as the
    // worklet always did (harmless when nothing moved).
    if (events.length > 0 || this.meter.targetSamples !== target) this.adapt();
    return events;
  }

  private adapt(): void {
    this.queue.prebufferSamples = this.meter.targetSamples;
    this.queue.maxWaitPulls = Math.ceil((2 * this.meter.targetSamples) / QUANTUM);
  }
}
