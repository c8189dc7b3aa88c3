/**
 * The browser's audio: microphone -> capture worklet (20 ms PCM16 frames), and the assistant's
 * PCM16 -> playback worklet -> speaker gain -> speakers, with analysers for the meters.
 *
 * Meters: the mic meter reads the microphone source (shown as 0 while muted, since nothing is
 * sent); the assistant meter and `playbackRms`/`playbackPeak` read the playback worklet's output
 * BEFORE the speaker gain, so they show the assistant talking even when the speaker is muted;
 * `outputRms`/`outputPeak` read AFTER the gain and prove that mute really silences.
 *
 * Without a microphone (a device that joined a session as a listener) the microphone is never
 * asked for: no getUserMedia, no capture worklet; only the playback half is built.
 */
import captureWorkletUrl from "./capture.worklet.ts?worker&url";
import playbackWorkletUrl from "./playback.worklet.ts?worker&url";
import { publishLevels } from "./levels";
import { WIRE_SAMPLE_RATE, littleEndianBytesToFloat, rmsFloat } from "./pcm";
import { LinearResampler } from "./resampler";
import {
  CAPTURE_PROCESSOR,
  PLAYBACK_PROCESSOR,
  type PlaybackCommand,
  type PlaybackReport,
} from "./worklet-names";
import { stats } from "../session/debugStats";
import type { HeardTurn } from "../session/earClock";

const LEVEL_INTERVAL_MS = 50;
const ANALYSER_SIZE = 1024;

export type FrameSink = (frame: Int16Array) => void;
/** An assistant turn, as heard at the speakers (see turnMeter.ts and session/earClock.ts). */
export type HeardSink = (turn: HeardTurn) => void;

class Meter {
  readonly node: AnalyserNode;
  private readonly buffer: Float32Array<ArrayBuffer>;

  constructor(context: AudioContext) {
    this.node = context.createAnalyser();
    this.node.fftSize = ANALYSER_SIZE;
    this.buffer = new Float32Array(ANALYSER_SIZE);
  }

  rms(): number {
    this.node.getFloatTimeDomainData(this.buffer);
    return rmsFloat(this.buffer);
  }
}

export class AudioEngine {
  private micMuted = false;
  private readonly fromWire: LinearResampler | null;
  private readonly levelTimer: ReturnType<typeof setInterval>;
  private closed = false;

  private constructor(
    private readonly context: AudioContext,
    private readonly stream: MediaStream | null,
    private readonly playback: AudioWorkletNode,
    private readonly capture: AudioWorkletNode | null,
    private readonly speaker: GainNode,
    private readonly micMeter: Meter | null,
    private readonly assistantMeter: Meter,
    private readonly outputMeter: Meter,
    private readonly sink: FrameSink,
    private readonly onHeard: HeardSink,
  ) {
    this.fromWire =
      context.sampleRate === WIRE_SAMPLE_RATE
        ? null
        : new LinearResampler(WIRE_SAMPLE_RATE, context.sampleRate);
    if (capture) capture.port.onmessage = (event: MessageEvent<Int16Array>) => this.onFrame(event.data);
    playback.port.onmessage = (event: MessageEvent<PlaybackReport>) => this.onPlayback(event.data);
    this.levelTimer = setInterval(() => this.measure(), LEVEL_INTERVAL_MS);
  }

  /** Asks for the microphone (unless `microphone` is false) and builds the graph; call from a
   * user gesture (autoplay rules). */
  static async start(
    sink: FrameSink,
    options: { micMuted: boolean; speakerMuted: boolean; onHeard?: HeardSink; microphone?: boolean },
  ) {
    const withMicrophone = options.microphone ?? true;
    const context = new AudioContext({ sampleRate: WIRE_SAMPLE_RATE, latencyHint: "interactive" });
    // Resumed before the first await, while the click's user activation is certainly valid.
    const resumed = context.resume();
    let stream: MediaStream | null = null;
    try {
      const loading = Promise.all([
        withMicrophone ? context.audioWorklet.addModule(captureWorkletUrl) : null,
        context.audioWorklet.addModule(playbackWorkletUrl),
      ]);
      if (withMicrophone) {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: {
            channelCount: 1,
            echoCancellation: true,
            noiseSuppression: true,
            autoGainControl: true,
          },
        });
      }
      await loading;
      await resumed;

      let capture: AudioWorkletNode | null = null;
      let micMeter: Meter | null = null;
      if (stream !== null) {
        const source = context.createMediaStreamSource(stream);
        capture = new AudioWorkletNode(context, CAPTURE_PROCESSOR, {
          numberOfInputs: 1,
          numberOfOutputs: 1,
          channelCount: 1,
          channelCountMode: "explicit",
          channelInterpretation: "speakers",
        });
        // The capture node outputs nothing audible; connecting it through a silent gain keeps the
        // graph pulling it in every browser.
        const sinkGain = context.createGain();
        sinkGain.gain.value = 0;
        micMeter = new Meter(context);
        source.connect(capture).connect(sinkGain).connect(context.destination);
        source.connect(micMeter.node);
      }

      const playback = new AudioWorkletNode(context, PLAYBACK_PROCESSOR, {
        numberOfInputs: 0,
        numberOfOutputs: 1,
        outputChannelCount: [1],
      });
      const speaker = context.createGain();
      const assistantMeter = new Meter(context);
      const outputMeter = new Meter(context);
      playback.connect(assistantMeter.node);
      playback.connect(speaker).connect(context.destination);
      speaker.connect(outputMeter.node);

      stats.sampleRate = context.sampleRate;
      const engine = new AudioEngine(
        context,
        stream,
        playback,
        capture,
        speaker,
        micMeter,
        assistantMeter,
        outputMeter,
        sink,
        options.onHeard ?? (() => undefined),
      );
      engine.setMicMuted(options.micMuted);
      engine.setSpeakerMuted(options.speakerMuted);
      return engine;
    } catch (error) {
      stream?.getTracks().forEach((track) => track.stop());
      void context.close();
      throw error;
    }
  }

  private turnStartedAt = 0;

  private onPlayback(report: PlaybackReport): void {
    const ms = (samples: number) => (samples / this.context.sampleRate) * 1000;
    if (report.type === "queue") {
      stats.queuedMs = ms(report.queuedSamples);
      stats.jitterBufferMs = ms(report.targetSamples);
      stats.underruns = report.underruns;
      stats.underrunMs = ms(report.underrunSamples);
    } else if (report.type === "turn-started") {
      // The worklet renders ahead of the speakers by the output latency.
      const latency = this.context.outputLatency || this.context.baseLatency || 0;
      this.turnStartedAt = performance.now() + latency * 1000;
    } else {
      this.onHeard({
        startedAt: this.turnStartedAt,
        endedAt: performance.now(),
        playedMs: ms(report.playedSamples),
        underruns: report.underruns,
        underrunMs: ms(report.underrunSamples),
        bufferMs: ms(report.bufferSamples),
      });
    }
  }

  /** The gateway says the assistant stopped speaking: the turn ends when its audio has played. */
  assistantStopped(): void {
    const command: PlaybackCommand = { type: "speaking-ended" };
    this.playback.port.postMessage(command);
  }

  private onFrame(frame: Int16Array): void {
    this.sink(frame);
  }

  setMicMuted(muted: boolean): void {
    this.micMuted = muted;
    stats.micMuted = muted;
    // The browser's own recording indicator and any processing stop too.
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = !muted;
  }

  setSpeakerMuted(muted: boolean): void {
    stats.speakerMuted = muted;
    // Set at once (no ramp): mute means silent now.
    this.speaker.gain.setValueAtTime(muted ? 0 : 1, this.context.currentTime);
    this.speaker.gain.value = muted ? 0 : 1;
  }

  /** One chunk of the assistant's audio (PCM16 LE, 24 kHz) from the wire. */
  play(bytes: ArrayBuffer): void {
    if (this.closed) return;
    let samples = littleEndianBytesToFloat(bytes);
    if (this.fromWire) samples = this.fromWire.process(samples).slice();
    if (samples.length === 0) return;
    const command: PlaybackCommand = { type: "chunk", samples };
    this.playback.port.postMessage(command, [samples.buffer]);
  }

  /** Drops every queued sample of the assistant's audio at once (barge-in, stop). */
  clearPlayback(): void {
    if (this.closed) return;
    const command: PlaybackCommand = { type: "clear" };
    this.playback.port.postMessage(command);
    this.fromWire?.reset();
    stats.queuedMs = 0;
  }

  private measure(): void {
    const mic = this.micMuted || this.micMeter === null ? 0 : this.micMeter.rms();
    const assistant = this.assistantMeter.rms();
    const output = this.outputMeter.rms();
    stats.playbackRms = assistant;
    if (assistant > stats.playbackPeak) stats.playbackPeak = assistant;
    stats.outputRms = output;
    if (output > stats.outputPeak) stats.outputPeak = output;
    publishLevels(mic, assistant);
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.levelTimer);
    if (this.capture) this.capture.port.onmessage = null;
    this.playback.port.onmessage = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    stats.queuedMs = 0;
    stats.playbackRms = 0;
    stats.outputRms = 0;
    publishLevels(0, 0);
    await this.context.close().catch(() => undefined);
  }
}
