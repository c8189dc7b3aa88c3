/** Shared between the worklets and the main thread (the worklet files themselves only run there). */
export const CAPTURE_PROCESSOR = "av-capture";
export const PLAYBACK_PROCESSOR = "av-playback";

export type PlaybackCommand =
  | { type: "chunk"; samples: Float32Array }
  | { type: "clear" }
  | { type: "speaking-ended" }; // the gateway says the assistant stopped: the rest is queued
export type PlaybackReport =
  | {
      type: "queue";
      queuedSamples: number;
      targetSamples: number; // the jitter buffer's current target
      underruns: number; // every underrun so far, and the silence they inserted
      underrunSamples: number;
    }
  | { type: "turn-started" } // the first sample of an assistant turn is being played
  | {
      type: "turn-ended";
      playedSamples: number;
      underruns: number;
      underrunSamples: number;
      bufferSamples: number;
    };
