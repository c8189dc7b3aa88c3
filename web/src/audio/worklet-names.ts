/** Shared between the worklets and the main thread (the worklet files themselves only run there). */
export const CAPTURE_PROCESSOR = "av-capture";
export const PLAYBACK_PROCESSOR = "av-playback";

export type PlaybackCommand = { type: "chunk"; samples: Float32Array } | { type: "clear" };
export type PlaybackReport = { type: "queue"; queuedSamples: number };
