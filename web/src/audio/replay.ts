/**
 * Replays recorded arrival times of the assistant's audio into the browser's own player
 * (player.ts), on a simulated audio clock, and says what the listener would have heard of each
 * turn. A benchmark's protocol-level clients record the traces (tests/harness/ear_trace.py):
 * they cost far less than browsers, and the replay still counts underruns and the jitter buffer
 * with exactly the logic the browser runs. Pure: no DOM, no worklet, no clock of its own.
 */
import { PLAYBACK_DEFAULTS, Player, QUANTUM } from "./player";
import type { TurnEvent, TurnHeard, TurnMeterOptions } from "./turnMeter";

/** `t` in milliseconds, any origin, non-decreasing within a session. */
export type ReplayEvent =
  | { t: number; type: "chunk"; samples: number }
  | { t: number; type: "speaking-ended" }
  | { t: number; type: "clear" };

export interface ReplayTrace {
  sampleRate: number;
  sessions: { events: ReplayEvent[] }[];
}

/** One turn as the listener heard it; times in the trace's milliseconds. */
export interface ReplayTurn extends TurnHeard {
  startedAt: number; // the start of the quantum whose first sample began the turn
  endedAt: number; // the start of the quantum that ended it, or the clear's time
}

export interface ReplayResult {
  sessions: { turns: ReplayTurn[] }[];
}

/** How long the clock keeps running after a session's last event, at most: without word from
 * the gateway a turn ends after 2 s of silence, so this leaves room for that and for audio still
 * queued, yet stops a trace whose audio never drains. */
export const LINGER_MS = 5000;

/** `trace` played through the browser's player; `options`: the player's (its defaults unless
 * said). */
export function replay(trace: ReplayTrace, options: TurnMeterOptions = PLAYBACK_DEFAULTS): ReplayResult {
  return { sessions: trace.sessions.map((s) => ({ turns: replaySession(trace.sampleRate, s.events, options) })) };
}

function replaySession(sampleRate: number, events: ReplayEvent[], options: TurnMeterOptions): ReplayTurn[] {
  const first = events[0];
  const last = events[events.length - 1];
  if (!first || !last) return [];
  const player = new Player(sampleRate, options);
  const out = new Float32Array(QUANTUM);
  const turns: ReplayTurn[] = [];
  let startedAt = first.t;
  const heard = (happened: TurnEvent[], at: number) => {
    for (const event of happened) {
      if (event.type === "started") startedAt = at;
      else {
        const { playedSamples, underruns, underrunSamples, bufferSamples } = event;
        turns.push({ startedAt, endedAt: at, playedSamples, underruns, underrunSamples, bufferSamples });
      }
    }
  };
  // Time from the first event: quanta start at whole multiples of the quantum, computed from the
  // quantum count each time so no rounding error builds up over a long session.
  const origin = first.t;
  const horizon = last.t - origin + LINGER_MS;
  let next = 0;
  for (let k = 0; ; k++) {
    const at = (k * QUANTUM * 1000) / sampleRate;
    for (let event = events[next]; event && event.t - origin <= at; event = events[++next]) {
      if (event.type === "chunk") player.push(new Float32Array(event.samples));
      else if (event.type === "speaking-ended") player.speakingEnded();
      else heard(player.clear(), event.t);
    }
    if (next === events.length && !player.inTurn && player.queued === 0) break;
    if (at > horizon) break; // a turn still playing here has no end: it is left out
    heard(player.pull(out), origin + at);
  }
  return turns;
}

/** Checks that `value` (parsed JSON) is a `ReplayTrace`; throws an Error that says where not. */
export function parseTrace(value: unknown): ReplayTrace {
  const trace = record(value, "the trace");
  const sampleRate = trace.sampleRate;
  // What an AudioContext accepts; it also keeps the simulated clock's quanta countable.
  if (typeof sampleRate !== "number" || !(sampleRate >= 3000 && sampleRate <= 768_000)) {
    throw new Error("sampleRate must be a number of Hz from 3000 to 768000");
  }
  if (!Array.isArray(trace.sessions)) throw new Error("sessions must be an array");
  const sessions = trace.sessions.map((s: unknown, i) => {
    const where = `sessions[${i}]`;
    const session = record(s, where);
    if (!Array.isArray(session.events)) throw new Error(`${where}.events must be an array`);
    let previous = 0;
    const events = session.events.map((e: unknown, j): ReplayEvent => {
      const at = `${where}.events[${j}]`;
      const event = record(e, at);
      const t = event.t;
      if (typeof t !== "number" || !Number.isFinite(t) || t < 0) {
        throw new Error(`${at}.t must be a non-negative number (milliseconds)`);
      }
      if (j > 0 && t < previous) throw new Error(`${at}.t goes back in time (${t} < ${previous})`);
      previous = t;
      if (event.type === "chunk") {
        const samples = event.samples;
        if (typeof samples !== "number" || !Number.isSafeInteger(samples) || samples < 0) {
          throw new Error(`${at}.samples must be a non-negative integer`);
        }
        return { t, type: "chunk", samples };
      }
      if (event.type === "speaking-ended" || event.type === "clear") return { t, type: event.type };
      throw new Error(
        `${at}.type must be "chunk", "speaking-ended" or "clear", not ${JSON.stringify(event.type)}`,
      );
    });
    return { events };
  });
  return { sampleRate, sessions };
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${where} must be an object`);
  }
  return value as Record<string, unknown>;
}
