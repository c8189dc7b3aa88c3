/**
 * Counters behind `window.agenticVoice.stats()`: what was really sent and played, for the
 * end-to-end test and for people debugging audio. Mutated in place per frame (no allocation);
 * `stats()` returns a copy.
 */
import type { ClientStatsMessage } from "../protocol/messages";
import type { ConnectionState } from "./reconnect";

export interface AgenticVoiceStats {
  state: ConnectionState;
  framesSent: number;
  bytesSent: number;
  frameSamples: number; // samples in the last frame sent
  frameMs: number; // its duration at 24 kHz
  lastFrameRms: number; // 0..1, of the last frame sent
  maxFrameRms: number; // 0..1, the largest over frames sent
  framesDroppedMuted: number; // frames captured but not sent because the mic was muted
  chunksReceived: number;
  bytesReceived: number;
  playbackPeak: number; // 0..1, the largest 50 ms RMS of the assistant's audio (before the mute gain)
  playbackRms: number; // 0..1, the current one (before the mute gain)
  outputRms: number; // 0..1, after the mute gain: what reaches the speakers (0 when muted)
  outputPeak: number; // 0..1, the largest such RMS
  queuedMs: number; // assistant audio waiting in the playback queue
  jitterBufferMs: number; // the playback's jitter buffer target now (it adapts)
  underruns: number; // times the playback ran dry inside a turn, since the page loaded
  underrunMs: number; // the silence those inserted
  turnsHeard: number; // assistant turns reported to the gateway (client_stats)
  lastMouthToEarMs: number | null; // the last user-started turn's mouth to ear
  // The last turns heard (at most 50), each with the gateway's own `voice` latency for it: what
  // the network and the player added is the difference (bench/audio_quality.py reads these).
  heardTurns: Array<ClientStatsMessage & { gateway_voice_ms: number | null }>;
  micMuted: boolean;
  speakerMuted: boolean;
  sampleRate: number; // the AudioContext's real rate (0 before the first start)
}

export const stats: AgenticVoiceStats = {
  state: "idle",
  framesSent: 0,
  bytesSent: 0,
  frameSamples: 0,
  frameMs: 0,
  lastFrameRms: 0,
  maxFrameRms: 0,
  framesDroppedMuted: 0,
  chunksReceived: 0,
  bytesReceived: 0,
  playbackPeak: 0,
  playbackRms: 0,
  outputRms: 0,
  outputPeak: 0,
  queuedMs: 0,
  jitterBufferMs: 0,
  underruns: 0,
  underrunMs: 0,
  turnsHeard: 0,
  lastMouthToEarMs: null,
  heardTurns: [],
  micMuted: false,
  speakerMuted: false,
  sampleRate: 0,
};

export interface AgenticVoiceHook {
  stats(): AgenticVoiceStats;
}

declare global {
  interface Window {
    agenticVoice: AgenticVoiceHook;
  }
}

export function installDebugHook(target: Window): void {
  target.agenticVoice = { stats: () => ({ ...stats, heardTurns: [...stats.heardTurns] }) };
}
