/**
 * When to reconnect the voice socket, and after how long: pure, with the clock and the random
 * source injected so the policy is tested without timers.
 */

export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed" | "error";

export interface BackoffOptions {
  baseMs: number; // the first retry's delay
  factor: number; // growth per failed attempt
  maxMs: number; // the cap on any delay (before jitter)
  jitter: number; // fraction: a delay d becomes d * (1 - jitter/2 .. 1 + jitter/2), still capped
  stableMs: number; // a connection open this long resets the backoff
  maxAttempts: number; // consecutive failed attempts before giving up
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  baseMs: 500,
  factor: 2,
  maxMs: 15_000,
  jitter: 0.3,
  stableMs: 10_000,
  maxAttempts: 12,
};

export interface CloseInfo {
  code: number;
  reason: string;
  userStopped: boolean; // the person pressed Stop
  sessionStopReason: string | null; // `reason` of a `session` stopped message, if one came
}

export type CloseDecision =
  | { kind: "reconnect"; delayMs: number; attempt: number }
  | { kind: "closed"; message: string | null }
  | { kind: "error"; message: string };

// Ends that somebody meant: the person, the operator, or the session's own limits.
const DELIBERATE_STOPS = new Set(["client_closed", "stopped", "idle", "max_duration"]);
// Transient: the gateway going away or restarting, a dropped network, a full gateway.
const RETRY_CODES = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

export function describeClose(code: number, reason: string): string {
  if (code === 1008) {
    const why = reason || "refused by policy";
    return /token/i.test(why) ? `Access token required or invalid (${why}).` : `Refused: ${why}.`;
  }
  if (code === 1009) return "The gateway refused a frame as too large.";
  if (code === 1011) return `The voice service failed${reason ? `: ${reason}` : ""}.`;
  if (code === 1013) return "The gateway is at its session limit; try again later.";
  return reason ? `Connection closed: ${reason} (${code}).` : `Connection closed (${code}).`;
}

export class ReconnectPolicy {
  private failures = 0;
  private openedAt: number | null = null;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  get attempts(): number {
    return this.failures;
  }

  /** The delay before retry number `attempt` (1-based), jittered and capped. */
  delayFor(attempt: number): number {
    const { baseMs, factor, maxMs, jitter } = this.options;
    const raw = Math.min(maxMs, baseMs * factor ** (attempt - 1));
    const spread = 1 + jitter * (this.random() - 0.5);
    return Math.round(Math.min(maxMs, raw * spread));
  }

  opened(now: number): void {
    this.openedAt = now;
  }

  reset(): void {
    this.failures = 0;
    this.openedAt = null;
  }

  closed(now: number, info: CloseInfo): CloseDecision {
    const stable = this.openedAt !== null && now - this.openedAt >= this.options.stableMs;
    this.openedAt = null;
    if (stable) this.failures = 0;

    if (info.userStopped) return { kind: "closed", message: null };
    if (info.sessionStopReason !== null && DELIBERATE_STOPS.has(info.sessionStopReason)) {
      return { kind: "closed", message: stopMessage(info.sessionStopReason) };
    }
    if (info.code === 1000) {
      return { kind: "closed", message: info.reason ? stopMessage(info.reason) : null };
    }
    if (!RETRY_CODES.has(info.code)) {
      return { kind: "error", message: describeClose(info.code, info.reason) };
    }
    if (this.failures >= this.options.maxAttempts) {
      return {
        kind: "error",
        message: `${describeClose(info.code, info.reason)} Gave up after ${this.failures} attempts.`,
      };
    }
    this.failures++;
    return { kind: "reconnect", delayMs: this.delayFor(this.failures), attempt: this.failures };
  }
}

function stopMessage(reason: string): string | null {
  switch (reason) {
    case "client_closed":
      return null;
    case "stopped":
      return "The session was stopped by the operator.";
    case "idle":
      return "The session ended after a long silence.";
    case "max_duration":
      return "The session reached its maximum duration.";
    default:
      return `The session ended (${reason}).`;
  }
}
