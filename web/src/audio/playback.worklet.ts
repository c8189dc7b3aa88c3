/**
 * Playback: float chunks (already at the context's rate) played back to back from a queue;
 * `clear` drops everything queued at once (barge-in). A jitter buffer of adaptive depth
 * (`TurnMeter`) holds audio back after the queue runs dry, and each assistant turn's start, end,
 * underruns and buffer depth are reported to the main thread, with the queue depth a few times a
 * second.
 */
import { PlaybackQueue } from "./playbackQueue";
import { TurnMeter, type TurnEvent } from "./turnMeter";
import { PLAYBACK_PROCESSOR, type PlaybackCommand, type PlaybackReport } from "./worklet-names";
import { scope } from "./worklet-scope";

const REPORT_EVERY_QUANTA = 16;
const QUANTUM = 128;

class PlaybackProcessor extends scope.AudioWorkletProcessor {
  private readonly meter = new TurnMeter(scope.sampleRate);
  private readonly queue = new PlaybackQueue();
  private quanta = 0;

  constructor() {
    super();
    this.adapt();
    this.port.onmessage = (event: MessageEvent<PlaybackCommand>) => {
      const command = event.data;
      if (command.type === "chunk") this.queue.push(command.samples);
      else if (command.type === "speaking-ended") this.meter.speakingEnded();
      else if (command.type === "clear") {
        this.queue.clear();
        const ended = this.meter.cleared();
        if (ended) this.tell([ended]);
        this.report();
      }
    };
  }

  /** The queue holds back the meter's target after running dry, waiting at most twice that. */
  private adapt(): void {
    this.queue.prebufferSamples = this.meter.targetSamples;
    this.queue.maxWaitPulls = Math.ceil((2 * this.meter.targetSamples) / QUANTUM);
  }

  private tell(events: TurnEvent[]): void {
    for (const event of events) {
      const report: PlaybackReport =
        event.type === "started" ? { type: "turn-started" } : { ...event, type: "turn-ended" };
      this.port.postMessage(report);
    }
    if (events.length > 0) this.adapt();
  }

  private report(): void {
    const report: PlaybackReport = {
      type: "queue",
      queuedSamples: this.queue.queued,
      targetSamples: this.meter.targetSamples,
      underruns: this.meter.total.underruns,
      underrunSamples: this.meter.total.underrunSamples,
    };
    this.port.postMessage(report);
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const output = outputs[0];
    const first = output?.[0];
    if (!output || !first) return true;
    const target = this.meter.targetSamples;
    this.tell(this.meter.afterPull(this.queue.pull(first), first.length));
    if (this.meter.targetSamples !== target) this.adapt();
    for (let c = 1; c < output.length; c++) output[c]!.set(first);
    if (++this.quanta % REPORT_EVERY_QUANTA === 0) this.report();
    return true;
  }
}

scope.registerProcessor(PLAYBACK_PROCESSOR, PlaybackProcessor as never);
