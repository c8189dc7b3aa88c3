import { describe, expect, it } from "vitest";
import { parseServerMessage } from "./messages";

const ts = "2026-12-02T08:00:00+00:00";

describe("parseServerMessage", () => {
  it("types every message the gateway sends", () => {
    const cases: [object, string][] = [
      [{ type: "transcription", role: "user", text: "hello", user_id: "user", final: true, timestamp: ts }, "transcription"],
      [{ type: "function_call", call_id: "c1", name: "send_to_nested", arguments: { text: "x" }, timestamp: ts }, "function_call"],
      [{ type: "function_result", call_id: "c1", name: "send_to_nested", ok: true, result: "handed over", timestamp: ts }, "function_result"],
      [{ type: "progress", source: "nested_agent", event_type: "TextMessage", text: "[TEAM a] hi", finished: false, timestamp: ts }, "progress"],
      [{ type: "session", state: "started", session_id: "s", conversation_id: "c", reason: null, timestamp: ts }, "session"],
      [
        { type: "session", state: "started", session_id: "s", conversation_id: "c", resume_key: "k".repeat(32), resume_s: 30, timestamp: ts },
        "session",
      ],
      [{ type: "session", state: "resumed", session_id: "s", conversation_id: "c", received: 12, replayed: 3, skipped: 0, timestamp: ts }, "session"],
      [{ type: "error", code: "invalid_json", message: "bad", fatal: false, timestamp: ts }, "error"],
      [{ type: "latency", metric: "voice", ms: 795.2, timestamp: ts }, "latency"],
      [{ type: "speaking", role: "assistant", speaking: true, timestamp: ts }, "speaking"],
      [{ type: "interruption", timestamp: ts }, "interruption"],
      [{ type: "pong", id: "p1", timestamp: ts }, "pong"],
      [{ type: "transcription", role: "user", text: "hi", user_id: "user", final: true, device: "Phone", timestamp: ts }, "transcription"],
      [{ type: "session", state: "started", session_id: "s", conversation_id: "c", device: "Laptop", timestamp: ts }, "session"],
      [{ type: "session", state: "joined", session_id: "s", conversation_id: "c", device: "Phone", role: "speaker", timestamp: ts }, "session"],
      [{ type: "session", state: "joined", session_id: "s", conversation_id: "c", device: "TV", role: "listener", timestamp: ts }, "session"],
      [{ type: "floor", device: "Phone", timestamp: ts }, "floor"],
      [{ type: "floor", device: null, timestamp: ts }, "floor"],
    ];
    for (const [message, type] of cases) {
      const parsed = parseServerMessage(JSON.stringify(message));
      expect(parsed?.type).toBe(type);
      expect(parsed).toMatchObject(message);
    }
  });

  it("fills documented defaults (final, fatal, finished, reason)", () => {
    expect(parseServerMessage(JSON.stringify({ type: "transcription", role: "assistant", text: "x" }))).toMatchObject({ final: true, user_id: "user" });
    expect(parseServerMessage(JSON.stringify({ type: "error", code: "c", message: "m" }))).toMatchObject({ fatal: false });
    expect(parseServerMessage(JSON.stringify({ type: "progress", source: "claude_code", event_type: "x", text: "t" }))).toMatchObject({ finished: false });
    expect(parseServerMessage(JSON.stringify({ type: "session", state: "stopped", session_id: "s", conversation_id: "c" }))).toMatchObject({ reason: null });
  });

  it("fills the resume fields with null where the state does not carry them", () => {
    expect(parseServerMessage(JSON.stringify({ type: "session", state: "stopped", session_id: "s", conversation_id: "c", reason: "idle" }))).toEqual({
      type: "session",
      timestamp: expect.any(String),
      state: "stopped",
      session_id: "s",
      conversation_id: "c",
      reason: "idle",
      resume_key: null,
      resume_s: null,
      received: null,
      replayed: null,
      skipped: null,
      device: null,
      role: null,
    });
    // Values that cannot be true are dropped, not trusted.
    const started = parseServerMessage(JSON.stringify({ type: "session", state: "started", session_id: "s", conversation_id: "c", resume_key: "", resume_s: -1 }));
    expect(started).toMatchObject({ resume_key: null, resume_s: null });
    const resumed = parseServerMessage(JSON.stringify({ type: "session", state: "resumed", session_id: "s", conversation_id: "c", received: 0, replayed: 1.5, skipped: -2 }));
    expect(resumed).toMatchObject({ state: "resumed", received: 0, replayed: null, skipped: null });
  });

  it("reads who spoke, who joined and who holds the floor (several devices)", () => {
    expect(parseServerMessage(JSON.stringify({ type: "transcription", role: "user", text: "x", device: "Phone" }))).toMatchObject({ device: "Phone" });
    // Before devices, or an assistant line: nobody named.
    expect(parseServerMessage(JSON.stringify({ type: "transcription", role: "assistant", text: "x" }))).toMatchObject({ device: null });
    expect(parseServerMessage(JSON.stringify({ type: "transcription", role: "user", text: "x", device: "" }))).toMatchObject({ device: null });
    expect(parseServerMessage(JSON.stringify({ type: "transcription", role: "user", text: "x", device: 7 }))).toMatchObject({ device: null });
    expect(parseServerMessage(JSON.stringify({ type: "session", state: "joined", session_id: "s", conversation_id: "c", device: "TV", role: "listener" }))).toMatchObject({
      state: "joined",
      device: "TV",
      role: "listener",
      resume_key: null,
    });
    // A role that is not one: dropped, not trusted.
    expect(parseServerMessage(JSON.stringify({ type: "session", state: "joined", session_id: "s", conversation_id: "c", role: "boss" }))).toMatchObject({ role: null, device: null });
    expect(parseServerMessage(JSON.stringify({ type: "floor", device: "Phone" }))).toEqual({ type: "floor", timestamp: expect.any(String), device: "Phone" });
    expect(parseServerMessage(JSON.stringify({ type: "floor", device: null }))).toMatchObject({ type: "floor", device: null });
  });

  it("ignores what it does not understand, without throwing", () => {
    const bad = [
      "",
      "not json",
      "[1,2]",
      "null",
      "42",
      JSON.stringify({ text: "no type" }),
      JSON.stringify({ type: "unknown_thing" }),
      JSON.stringify({ type: 5 }),
      JSON.stringify({ type: "transcription", role: "robot", text: "x" }),
      JSON.stringify({ type: "transcription", role: "user" }),
      JSON.stringify({ type: "function_call", name: "x" }),
      JSON.stringify({ type: "function_result", call_id: "c", name: "x", ok: "yes" }),
      JSON.stringify({ type: "progress", source: "somebody", text: "x" }),
      JSON.stringify({ type: "session", state: "paused" }),
      JSON.stringify({ type: "session", state: "resumed", session_id: "s", conversation_id: "c" }), // no count to act on
      JSON.stringify({ type: "session", state: "resumed", session_id: "s", conversation_id: "c", received: "12" }),
      JSON.stringify({ type: "session", state: "resumed", session_id: "s", conversation_id: "c", received: -1 }),
      JSON.stringify({ type: "latency", metric: "voice", ms: "fast" }),
      JSON.stringify({ type: "speaking" }),
      JSON.stringify({ type: "error", code: 1 }),
      JSON.stringify({ type: "floor" }), // free or held: it must say
      JSON.stringify({ type: "floor", device: 3 }),
      JSON.stringify({ type: "floor", device: "" }),
    ];
    for (const raw of bad) expect(parseServerMessage(raw)).toBeNull();
  });
});
