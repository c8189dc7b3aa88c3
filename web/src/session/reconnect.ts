/**
 * When to reconnect the voice socket, and after how long: pure, with the clock and the random
 * source injected so the policy is tested without timers. Which closes are retried comes from
 * libs/contracts (protocol/vocabulary.ts is generated from it).
 */

import { CloseCode, DELIBERATE_ENDS, EndReason, RETRYABLE_CLOSE_CODES } from "../protocol/vocabulary";

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

export function describeClose(code: number, reason: string): string {
  if (code === CloseCode.POLICY) {
    const why = reason || "refused by policy";
    return /token/i.test(why) ? `Access token required or invalid (${why}).` : `Refused: ${why}.`;
  }
  if (code === CloseCode.TOO_BIG) return "The gateway refused a frame as too large.";
  if (code === CloseCode.BRAIN_UNAVAILABLE) {
    return `The voice service cannot run${reason ? `: ${reason}` : ""}. Ask its operator to check its configuration.`;
  }
  if (code === CloseCode.JOIN_REFUSED) {
    return `Cannot join the live session${reason ? `: ${reason}` : ""}.`;
  }
  if (code === CloseCode.INTERNAL_ERROR) return `The voice service failed${reason ? `: ${reason}` : ""}.`;
  if (code === CloseCode.TRY_AGAIN_LATER) return "The gateway is at its session limit; try again later.";
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
    if (info.sessionStopReason !== null && DELIBERATE_ENDS.has(info.sessionStopReason)) {
      return { kind: "closed", message: stopMessage(info.sessionStopReason) };
    }
    if (info.code === CloseCode.NORMAL) {
      return { kind: "closed", message: info.reason ? stopMessage(info.reason) : null };
    }
    if (!RETRYABLE_CLOSE_CODES.has(info.code)) {
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
    case EndReason.CLIENT_CLOSED:
      return null;
    case EndReason.STOPPED:
      return "The session was stopped by the operator.";
    case EndReason.IDLE:
      return "The session ended after a long silence.";
    case EndReason.MAX_DURATION:
      return "The session reached its maximum duration.";
    default:
      return `The session ended (${reason}).`;
  }
}
