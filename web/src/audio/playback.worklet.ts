/**
 * Playback: float chunks (already at the context's rate) played back to back by the `Player`
 * (a queue with an adaptive jitter buffer, and the meter of each assistant turn); `clear` drops
 * everything queued at once (barge-in). This file is only the message plumbing: each turn's
 * start, end, underruns and buffer depth are reported to the main thread, with the queue depth a
 * few times a second.
 */
import { Player } from "./player";
import type { TurnEvent } from "./turnMeter";
import { PLAYBACK_PROCESSOR, type PlaybackCommand, type PlaybackReport } from "./worklet-names";
import { scope } from "./worklet-scope";

const REPORT_EVERY_QUANTA = 16;

class PlaybackProcessor extends scope.AudioWorkletProcessor {
  private readonly player = new Player(scope.sampleRate);
  private quanta = 0;

  constructor() {
    super();
    this.port.onmessage = (event: MessageEvent<PlaybackCommand>) => {
      const command = event.data;
      if (command.type === "chunk") this.player.push(command.samples);
      else if (command.type === "speaking-ended") this.player.speakingEnded();
      else if (command.type === "clear") {
        this.tell(this.player.clear());
        this.report();
      }
    };
  }

  private tell(events: TurnEvent[]): void {
    for (const event of events) {
      const report: PlaybackReport =
        event.type === "started" ? { type: "turn-started" } : { ...event, type: "turn-ended" };
      this.port.postMessage(report);
    }
  }

  private report(): void {
    const report: PlaybackReport = {
      type: "queue",
      queuedSamples: this.player.queued,
      targetSamples: this.player.targetSamples,
      underruns: this.player.total.underruns,
      underrunSamples: this.player.total.underrunSamples,
    };
    this.port.postMessage(report);
  }

  process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
    const output = outputs[0];
    const first = output?.[0];
    if (!output || !first) return true;
    this.tell(this.player.pull(first));
    for (let c = 1; c < output.length; c++) output[c]!.set(first);
    if (++this.quanta % REPORT_EVERY_QUANTA === 0) this.report();
    return true;
  }
}

scope.registerProcessor(PLAYBACK_PROCESSOR, PlaybackProcessor as never);
