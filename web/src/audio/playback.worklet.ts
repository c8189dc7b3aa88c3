/**
 * Playback: float chunks (already at the context's rate) played back to back from a queue;
 * `clear` drops everything queued at once. Reports the queue depth a few times a second.
 */
import { PlaybackQueue } from "./playbackQueue";
import { PLAYBACK_PROCESSOR, type PlaybackCommand, type PlaybackReport } from "./worklet-names";
import { scope } from "./worklet-scope";

const REPORT_EVERY_QUANTA = 16;

class PlaybackProcessor extends scope.AudioWorkletProcessor {
  // About 50 ms of cushion after running dry, waiting at most 100 ms for it.
  private readonly queue = new PlaybackQueue({
    prebufferSamples: Math.round(scope.sampleRate * 0.05),
    maxWaitPulls: Math.ceil((scope.sampleRate * 0.1) / 128),
  });
  private quanta = 0;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<PlaybackCommand>) => {
      const command = event.data;
      if (command.type === "chunk") this.queue.push(command.samples);
      else if (command.type === "clear") {
        this.queue.clear();
        this.report();
      }
    };
  }

  private report(): void {
    const report: PlaybackReport = { type: "queue", queuedSamples: this.queue.queued };
    this.port.postMessage(report);
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const output = outputs[0];
    const first = output?.[0];
    if (!output || !first) return true;
    this.queue.pull(first);
    for (let c = 1; c < output.length; c++) output[c]!.set(first);
    if (++this.quanta % REPORT_EVERY_QUANTA === 0) this.report();
    return true;
  }
}

scope.registerProcessor(PLAYBACK_PROCESSOR, PlaybackProcessor as never);
