/**
 * Mouth to ear, per assistant turn: from the user's last voiced microphone sample to the turn's
 * first sample played, as the `client_stats` message reports it.
 *
 * A frame is voiced when its peak reaches the gateway's own threshold (VOICED_PEAK, from the
 * contracts). Only a voiced frame sent after the previous turn ended and before this one
 * started counts: a turn the user did not start (the greeting, a finished run's summary) has no
 * mouth-to-ear figure.
 */
import type { ClientStatsMessage } from "../protocol/messages";
import { VOICED_PEAK } from "../protocol/vocabulary";

export { VOICED_PEAK };

export interface HeardTurn {
  startedAt: number; // performance.now() when its first sample reached the speakers
  endedAt: number;
  playedMs: number;
  underruns: number;
  underrunMs: number;
  bufferMs: number;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export class EarClock {
  private lastVoicedAt: number | null = null;
  private lastTurnEndedAt = -Infinity;

  /** A microphone frame sent at `endedAt` (the time of its last sample). */
  frameSent(frame: Int16Array, endedAt: number): void {
    for (const sample of frame) {
      if (sample >= VOICED_PEAK || sample <= -VOICED_PEAK) {
        this.lastVoicedAt = endedAt;
        return;
      }
    }
  }

  /** The stats message for a turn that has been heard. */
  heard(turn: HeardTurn): ClientStatsMessage {
    const voiced = this.lastVoicedAt;
    const byUser = voiced !== null && voiced > this.lastTurnEndedAt && voiced <= turn.startedAt;
    this.lastTurnEndedAt = turn.endedAt;
    return {
      type: "client_stats",
      mouth_to_ear_ms: byUser ? round(turn.startedAt - voiced) : null,
      played_ms: round(turn.playedMs),
      underruns: turn.underruns,
      // A gap shorter than 0.05 ms still happened: never report underruns with 0 ms of them.
      underrun_ms: turn.underruns === 0 ? 0 : Math.max(0.1, round(turn.underrunMs)),
      buffer_ms: round(turn.bufferMs),
    };
  }
}
