/**
 * What the listener hears of each assistant turn, counted where the audio plays, and the jitter
 * buffer that keeps it whole.
 *
 * The playback worklet calls `afterPull` once per render quantum with how many of its samples
 * came from the queue, and how many were queued before. A turn starts with its first sample
 * played. The gateway says when the assistant has stopped speaking (`speakingEnded`): until
 * then, a quantum with nothing to play is an underrun in progress, and when audio comes back the
 * listener heard a gap of that many samples (counted, and the buffer grows: `underrun` says by
 * how much). Once the gateway has said so, the turn ends when the queue runs dry. Without word
 * from the gateway, `endGapMs` of silence ends it.
 * A turn that played at least `fitAfterMs` without an underrun fits the buffer to what it
 * really used: how far the queue ran down from what it held at the start, before each new chunk
 * arrived (`arrived`), plus `spareMs`. The target only shrinks this way, never below
 * `minBufferMs`: a steady network pays for no more delay than it needs from the next turn on,
 * and a jittery one, which used its buffer, keeps it. A barge-in (`cleared`) ends the turn at
 * once (cut short, it fits nothing).
 */

export interface TurnHeard {
  playedSamples: number;
  underruns: number;
  underrunSamples: number; // silence inserted inside the turn, waiting for audio
  bufferSamples: number; // the jitter buffer's target when the turn ended
}

export interface TurnMeterOptions {
  minBufferMs?: number;
  startBufferMs?: number;
  maxBufferMs?: number;
  growMs?: number;
  spareMs?: number;
  fitAfterMs?: number;
  endGapMs?: number;
}

export type TurnEvent = { type: "started" } | ({ type: "ended" } & TurnHeard);

export class TurnMeter {
  private readonly min: number;
  private readonly max: number;
  private readonly grow: number;
  private readonly spare: number;
  private readonly fitAfter: number;
  private readonly endGap: number;
  private target: number;
  private playing = false;
  private ending = false; // the gateway said the assistant stopped: the turn ends when dry
  private dry = 0; // silent samples since the audio stopped, inside a turn
  private held = 0; // of those, while audio was queued but held back to refill the buffer
  private startedWith = 0; // samples queued when playing last started or resumed
  private lowWater = Infinity; // the least queued just before a chunk arrived, this turn
  private turn = { played: 0, underruns: 0, underrunSamples: 0 };
  /** Every underrun since the meter started, and their silence (for the debug view). */
  readonly total = { underruns: 0, underrunSamples: 0 };

  constructor(
    private readonly sampleRate: number,
    options: TurnMeterOptions = {},
  ) {
    const samples = (ms: number) => Math.round((ms / 1000) * sampleRate);
    this.min = samples(options.minBufferMs ?? 40);
    this.max = samples(options.maxBufferMs ?? 200);
    this.grow = samples(options.growMs ?? 20);
    this.spare = samples(options.spareMs ?? 40);
    this.fitAfter = samples(options.fitAfterMs ?? 1000);
    this.endGap = samples(options.endGapMs ?? 2000);
    this.target = Math.min(this.max, Math.max(this.min, samples(options.startBufferMs ?? 60)));
  }

  /** The jitter buffer's target: audio to hold before playing resumes after running dry. */
  get targetSamples(): number {
    return this.target;
  }

  get inTurn(): boolean {
    return this.playing;
  }

  /** The gateway says the assistant stopped speaking. It says so after the turn's last audio
   * on the same ordered socket, so that audio is queued by now (it may not have started): the
   * turn ends when the queue next runs dry. */
  speakingEnded(): void {
    this.ending = true;
  }

  /** A chunk of audio is about to be queued, with `queued` samples waiting before it: while a
   * turn plays (not yet told it is over, not dry), that is how low the buffer ran. */
  arrived(queued: number): void {
    if (this.playing && !this.ending && this.dry === 0) {
      this.lowWater = Math.min(this.lowWater, queued);
    }
  }

  /** After one quantum of `size` samples, `written` of them audio, `queued` samples waiting
   * before it (0 if unknown): what, if anything, happened. */
  afterPull(written: number, size: number, queued = 0): TurnEvent[] {
    const events: TurnEvent[] = [];
    if (written > 0) {
      if (!this.playing) {
        this.playing = true;
        this.turn = { played: 0, underruns: 0, underrunSamples: 0 };
        events.push({ type: "started" });
        this.startedWith = queued;
        this.lowWater = Infinity;
      } else if (this.dry > 0) {
        this.underrun(this.dry);
        this.startedWith = queued;
      }
      this.dry = size - written; // a partial quantum ends in silence
      this.held = 0;
      this.turn.played += written;
      if (this.ending && this.dry > 0) events.push(this.end(true)); // ran dry after the last word
      return events;
    }
    if (!this.playing) return events;
    this.dry += size;
    if (queued > 0) this.held += size;
    if (this.ending || this.dry >= this.endGap) events.push(this.end(true));
    return events;
  }

  /** The queue was cleared (barge-in, stop): the turn ends with what was played. */
  cleared(): TurnEvent | null {
    return this.playing ? this.end(false) : null;
  }

  private underrun(silence: number): void {
    this.turn.underruns++;
    this.turn.underrunSamples += silence;
    this.total.underruns++;
    this.total.underrunSamples += silence;
    // Grow to what would have covered this gap, not by a fixed step (which needed two or three
    // gaps on a jittery link: docs/benchmarks.md, audio_quality). The buffer really held
    // `startedWith` when it last started, not its target (audio comes in whole chunks: a 60 ms
    // target starts on two 40 ms chunks, 80 ms), and the next audio came `late` after that ran
    // out: it needed that much more. The silence spent holding audio back to refill the buffer
    // is the buffer's own, not the network's: counted in the gap, not in the growth. At least
    // `growMs`, so a gap of a few samples still grows it; at most `maxBufferMs`.
    const late = silence - this.held;
    const base = Math.max(this.target, this.startedWith);
    this.target = Math.min(this.max, base + Math.max(this.grow, late));
  }

  /** After a whole turn without a gap: the target it needed, if less than it had. Had it been
   * that, playing would have started earlier, when less was queued; the queue would then have
   * run lower by at most what it was short (the audio came at least as fast as it plays), so
   * never below `spare`. */
  private fit(): void {
    if (this.turn.underruns > 0 || this.turn.played < this.fitAfter) return;
    if (this.lowWater === Infinity) return; // no chunk came after it started: nothing to go by
    const used = this.startedWith - this.lowWater;
    this.target = Math.max(this.min, Math.min(this.target, used + this.spare));
  }

  private end(whole: boolean): TurnEvent {
    if (whole) this.fit();
    this.playing = false;
    this.ending = false;
    this.dry = 0;
    this.held = 0;
    return {
      type: "ended",
      playedSamples: this.turn.played,
      underruns: this.turn.underruns,
      underrunSamples: this.turn.underrunSamples,
      bufferSamples: this.target,
    };
  }

  /** Milliseconds at the meter's rate. */
  ms(samples: number): number {
    return (samples / this.sampleRate) * 1000;
  }
}
