import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF, ReconnectPolicy, type BackoffOptions, type CloseInfo } from "./reconnect";

const OPTIONS: BackoffOptions = { baseMs: 500, factor: 2, maxMs: 8_000, jitter: 0.3, stableMs: 10_000, maxAttempts: 50 };
const drop = (code = 1006, extra: Partial<CloseInfo> = {}): CloseInfo => ({
  code,
  reason: "",
  userStopped: false,
  sessionStopReason: null,
  ...extra,
});

function delays(policy: ReconnectPolicy, count: number, now = 0): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const d = policy.closed(now, drop());
    if (d.kind !== "reconnect") throw new Error(`expected a reconnect, got ${d.kind}`);
    out.push(d.delayMs);
  }
  return out;
}

describe("ReconnectPolicy backoff", () => {
  it("grows the delay exponentially and caps it (no jitter at the random midpoint)", () => {
    expect(delays(new ReconnectPolicy(OPTIONS, () => 0.5), 8)).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
  });

  it("keeps jitter within its bounds and under the cap", () => {
    for (const r of [0, 0.999999]) {
      const got = delays(new ReconnectPolicy(OPTIONS, () => r), 8);
      const nominal = [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000];
      got.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(Math.floor(nominal[i]! * 0.85));
        expect(d).toBeLessThanOrEqual(Math.min(OPTIONS.maxMs, Math.ceil(nominal[i]! * 1.15)));
      });
    }
    // jitter really varies the delay
    expect(delays(new ReconnectPolicy(OPTIONS, () => 0), 1)[0]).toBeLessThan(delays(new ReconnectPolicy(OPTIONS, () => 0.99), 1)[0]!);
  });

  it("resets after a connection that stayed up for the stable time, not after a brief one", () => {
    const policy = new ReconnectPolicy(OPTIONS, () => 0.5);
    delays(policy, 4); // 500, 1000, 2000, 4000
    policy.opened(100_000);
    expect(policy.closed(100_000 + 2_000, drop())).toMatchObject({ kind: "reconnect", delayMs: 8000 }); // brief: keeps growing
    policy.opened(200_000);
    expect(policy.closed(200_000 + 10_000, drop())).toMatchObject({ kind: "reconnect", delayMs: 500, attempt: 1 });
  });

  it("gives up with an error after maxAttempts consecutive failures", () => {
    const policy = new ReconnectPolicy({ ...OPTIONS, maxAttempts: 3 }, () => 0.5);
    delays(policy, 3);
    expect(policy.closed(0, drop()).kind).toBe("error");
  });

  it("has sane defaults", () => {
    expect(DEFAULT_BACKOFF.maxMs).toBeGreaterThan(DEFAULT_BACKOFF.baseMs);
    expect(DEFAULT_BACKOFF.jitter).toBeLessThan(1);
  });
});

describe("ReconnectPolicy decisions", () => {
  const policy = () => new ReconnectPolicy(OPTIONS, () => 0.5);

  it.each([1001, 1006, 1011, 1013])("reconnects after close code %i", (code) => {
    expect(policy().closed(0, drop(code)).kind).toBe("reconnect");
  });

  it("never reconnects after the person pressed Stop, whatever the code", () => {
    for (const code of [1000, 1001, 1006, 1011]) {
      expect(policy().closed(0, drop(code, { userStopped: true }))).toEqual({ kind: "closed", message: null });
    }
  });

  it.each(["client_closed", "stopped"])("does not reconnect after a session stopped with reason %s", (reason) => {
    expect(policy().closed(0, drop(1006, { sessionStopReason: reason })).kind).toBe("closed");
  });

  it("does not reconnect after 1008 and shows the reason, calling out a token problem", () => {
    const decision = policy().closed(0, drop(1008, { reason: "a valid token is required" }));
    expect(decision.kind).toBe("error");
    expect(decision.kind === "error" && decision.message).toMatch(/token required or invalid/i);
    const origin = policy().closed(0, drop(1008, { reason: "origin 'x' is not allowed" }));
    expect(origin.kind === "error" && origin.message).toContain("origin 'x' is not allowed");
  });

  it("does not retry a brain that cannot run (4001): it says why and whom to ask", () => {
    const decision = policy().closed(0, drop(4001, { reason: "the Piper voice is missing" }));
    expect(decision.kind).toBe("error");
    expect(decision.kind === "error" && decision.message).toMatch(/Piper voice is missing.*operator/);
  });

  it("does not reconnect after 1009 (frame too large)", () => {
    expect(policy().closed(0, drop(1009)).kind).toBe("error");
  });

  it("treats a normal 1000 close (idle, max_duration) as the end, not a failure", () => {
    const decision = policy().closed(0, drop(1000, { reason: "idle" }));
    expect(decision.kind).toBe("closed");
    expect(decision.kind === "closed" && decision.message).toMatch(/silence/);
  });

  it("reconnects after a shutdown (1001) even though a session stopped message came first", () => {
    expect(policy().closed(0, drop(1001, { sessionStopReason: "shutdown" })).kind).toBe("reconnect");
  });
});
