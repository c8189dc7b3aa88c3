import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../api/types";
import { parseServerMessage, type ServerMessage } from "../protocol/messages";
import { applyMessage, emptyConversation, showsDevices, viewFromEvents, type ConversationView } from "./conversation";

let clock = 0;
const at = () => `2026-12-02T08:00:${String(clock++).padStart(2, "0")}+00:00`;
const msg = (m: object): ServerMessage => parseServerMessage(JSON.stringify({ timestamp: at(), ...m }))!;
const fold = (messages: object[], start: ConversationView = emptyConversation) =>
  messages.map(msg).reduce(applyMessage, start);

describe("conversation view from live messages", () => {
  it("keeps user and assistant lines in order and replaces a partial line", () => {
    const view = fold([
      { type: "transcription", role: "user", text: "hel", final: false },
      { type: "transcription", role: "user", text: "hello team", final: true },
      { type: "transcription", role: "assistant", text: "Hi!" },
      { type: "speaking", speaking: true },
    ]);
    expect(view.lines.map((l) => [l.role, l.text])).toEqual([
      ["user", "hello team"],
      ["assistant", "Hi!"],
    ]);
  });

  it("follows a team run: call -> handed over (still running) -> progress -> finished (done)", () => {
    let view = fold([{ type: "function_call", call_id: "c1", name: "send_to_nested", arguments: { text: "write a haiku" } }]);
    expect(view.cards[0]).toMatchObject({ callId: "c1", name: "send_to_nested", status: "running" });
    view = fold([{ type: "function_result", call_id: "c1", name: "send_to_nested", ok: true, result: "I've handed that to the team." }], view);
    expect(view.cards[0]).toMatchObject({ status: "running", ok: true, result: "I've handed that to the team." });
    view = fold(
      [
        { type: "progress", source: "nested_agent", event_type: "TextMessage", text: "[TEAM writer] drafting" },
        { type: "progress", source: "claude_code", event_type: "TextMessage", text: "[CODE ClaudeCode] unrelated" },
        { type: "progress", source: "nested_agent", event_type: "run_finished", text: "[TEAM RESULT] done", finished: true },
      ],
      view,
    );
    expect(view.cards).toHaveLength(2);
    expect(view.cards[0]!.progress.map((p) => p.text)).toEqual(["[TEAM writer] drafting", "[TEAM RESULT] done"]);
    expect(view.cards[0]).toMatchObject({ status: "done", runFinished: true });
    // Claude Code progress with no open Claude Code card becomes its own activity card.
    expect(view.cards[1]).toMatchObject({ callId: "", name: "claude_code", status: "running" });
  });

  it("marks a failed tool failed, and does not attach later progress to it", () => {
    const view = fold([
      { type: "function_call", call_id: "c2", name: "send_to_claude_code", arguments: { text: "fix it" } },
      { type: "function_result", call_id: "c2", name: "send_to_claude_code", ok: false, result: "not reachable" },
      { type: "progress", source: "claude_code", event_type: "error", text: "[CODE ERROR] boom" },
    ]);
    expect(view.cards[0]).toMatchObject({ status: "failed", ok: false, progress: [] });
    expect(view.cards[1]).toMatchObject({ name: "claude_code", callId: "" });
  });

  it("marks a non-delegating tool done on its answer", () => {
    const view = fold([
      { type: "function_call", call_id: "c3", name: "pause", arguments: {} },
      { type: "function_result", call_id: "c3", name: "pause", ok: true, result: "I've asked the team to stop." },
    ]);
    expect(view.cards[0]).toMatchObject({ status: "done" });
  });

  it("knows which devices took part: this one, the floor's, the user lines'", () => {
    let view = fold([
      { type: "session", state: "started", session_id: "s", conversation_id: "c", device: "Laptop" },
      { type: "transcription", role: "user", text: "one device so far", device: "Laptop" },
      { type: "transcription", role: "assistant", text: "Hi!" },
    ]);
    expect(view.devices).toEqual(["Laptop"]);
    expect(showsDevices(view)).toBe(false);
    expect(view.lines.map((l) => l.device)).toEqual(["Laptop", null]); // the assistant has none
    view = fold([{ type: "floor", device: "Phone" }, { type: "floor", device: null }, { type: "floor", device: "Laptop" }], view);
    expect(view.devices).toEqual(["Laptop", "Phone"]);
    expect(showsDevices(view)).toBe(true);
    view = fold([{ type: "transcription", role: "user", text: "from the TV?", device: "TV" }], view);
    expect(view.devices).toEqual(["Laptop", "Phone", "TV"]);
    // A device that joined learns its own name from `joined`.
    const joined = fold([{ type: "session", state: "joined", session_id: "s", conversation_id: "c", device: "Phone", role: "listener" }]);
    expect(joined.devices).toEqual(["Phone"]);
    // A resume or the end names nobody.
    expect(fold([{ type: "session", state: "stopped", session_id: "s", conversation_id: "c", reason: "idle" }]).devices).toEqual([]);
  });

  it("does not merge a partial line into another device's words", () => {
    const view = fold([
      { type: "transcription", role: "user", text: "hel", final: false, device: "Laptop" },
      { type: "transcription", role: "user", text: "hello from the phone", device: "Phone" },
    ]);
    expect(view.lines.map((l) => [l.text, l.device, l.final])).toEqual([
      ["hel", "Laptop", false],
      ["hello from the phone", "Phone", true],
    ]);
  });

  it("attaches progress to the most recent open card of the matching tool", () => {
    const view = fold([
      { type: "function_call", call_id: "a", name: "send_to_nested", arguments: { text: "one" } },
      { type: "function_call", call_id: "b", name: "send_to_nested", arguments: { text: "two" } },
      { type: "progress", source: "nested_agent", event_type: "TextMessage", text: "[TEAM x] working" },
    ]);
    expect(view.cards.find((c) => c.callId === "b")!.progress).toHaveLength(1);
    expect(view.cards.find((c) => c.callId === "a")!.progress).toHaveLength(0);
  });
});

describe("conversation view from stored events", () => {
  let row = 0;
  const ev = (source: string, type: string, payload: Record<string, unknown>): StoredEvent => ({
    id: ++row,
    event_id: `e${row}`,
    conversation_id: "conv-1",
    timestamp: at(),
    source,
    type,
    payload,
  });

  it("rebuilds lines and cards as the live messages would have", () => {
    const view = viewFromEvents([
      ev("controller", "session_started", { session_id: "s" }),
      ev("voice", "transcript", { role: "user", text: "ask the team for a haiku" }),
      ev("voice", "function_call", { call_id: "c1", name: "send_to_nested", arguments: { text: "haiku" } }),
      ev("voice", "function_result", { call_id: "c1", name: "send_to_nested", ok: true, result: "handed over" }),
      ev("nested_agent", "TextMessage", {
        type: "TextMessage",
        data: { source: "poet", content: "Autumn moon" },
        progress: { kind: "said", actor: "poet", text: "Autumn moon", line: "[TEAM poet] Autumn moon", finished: false },
      }),
      ev("nested_agent", "ModelClientStreamingChunkEvent", { data: { content: "Au" } }),
      ev("nested_agent", "run_finished", {
        summary: "The team wrote a haiku.",
        outcome: "completed",
        progress: {
          kind: "result",
          actor: "RESULT",
          text: "The team wrote a haiku.",
          line: "[TEAM RESULT] The team wrote a haiku.",
          finished: true,
        },
      }),
      ev("voice", "transcript", { role: "assistant", text: "The team wrote a haiku." }),
    ]);
    expect(view.lines.map((l) => l.role)).toEqual(["user", "assistant"]);
    expect(view.cards).toHaveLength(1);
    expect(view.cards[0]).toMatchObject({ callId: "c1", status: "done", result: "handed over" });
    expect(view.cards[0]!.progress.map((p) => p.text)).toEqual([
      "[TEAM poet] Autumn moon",
      "[TEAM RESULT] The team wrote a haiku.",
    ]);
  });

  it("keeps which device spoke each stored user line", () => {
    const view = viewFromEvents([
      ev("voice", "transcript", { role: "user", text: "older, before devices" }),
      ev("voice", "transcript", { role: "user", text: "from the laptop", device: "Laptop" }),
      ev("voice", "transcript", { role: "assistant", text: "answer" }),
      ev("voice", "transcript", { role: "user", text: "from the phone", device: "Phone" }),
    ]);
    expect(view.lines.map((l) => l.device)).toEqual([null, "Laptop", null, "Phone"]);
    expect(view.devices).toEqual(["Laptop", "Phone"]);
    expect(showsDevices(view)).toBe(true);
  });
});
