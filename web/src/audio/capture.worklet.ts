/**
 * Capture: the microphone's render quanta -> 24 kHz Int16 frames of exactly 480 samples (20 ms),
 * each transferred to the main thread, which sends it on the WebSocket.
 */
import { Framer } from "./framer";
import { FRAME_SAMPLES, WIRE_SAMPLE_RATE } from "./pcm";
import { LinearResampler } from "./resampler";
import { CAPTURE_PROCESSOR } from "./worklet-names";
import { scope } from "./worklet-scope";

class CaptureProcessor extends scope.AudioWorkletProcessor {
  private readonly framer: Framer;
  private readonly resampler: LinearResampler | null;
  private resampled: Float32Array;

  constructor() {
    super();
    this.framer = new Framer((frame) => {
      this.port.postMessage(frame, [frame.buffer]);
    }, FRAME_SAMPLES);
    const rate = scope.sampleRate;
    this.resampler = rate === WIRE_SAMPLE_RATE ? null : new LinearResampler(rate, WIRE_SAMPLE_RATE);
    this.resampled = new Float32Array(this.resampler ? this.resampler.maxOutput(128) : 0);
  }

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel) return true; // no input connected yet
    if (this.resampler === null) {
      this.framer.push(channel);
    } else {
      if (this.resampled.length < this.resampler.maxOutput(channel.length)) {
        this.resampled = new Float32Array(this.resampler.maxOutput(channel.length));
      }
      this.framer.push(this.resampled, this.resampler.processInto(channel, this.resampled));
    }
    return true;
  }
}

scope.registerProcessor(CAPTURE_PROCESSOR, CaptureProcessor as never);
