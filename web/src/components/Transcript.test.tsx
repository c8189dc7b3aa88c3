// @vitest-environment jsdom
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { parseServerMessage } from "../protocol/messages";
import { applyMessage, emptyConversation } from "../session/conversation";
import { Transcript } from "./Transcript";

afterEach(cleanup);

const sequence = [
  { type: "transcription", role: "user", text: "Ask the team to write a haiku" },
  { type: "function_call", call_id: "call-1", name: "send_to_nested", arguments: { text: "write a haiku" } },
  { type: "function_result", call_id: "call-1", name: "send_to_nested", ok: true, result: "I've handed that to the team." },
  { type: "transcription", role: "assistant", text: "I've handed that to the team." },
  { type: "progress", source: "nested_agent", event_type: "TextMessage", text: "[TEAM poet] Autumn moon rises" },
  { type: "progress", source: "nested_agent", event_type: "run_finished", text: "[TEAM RESULT] A haiku.", finished: true },
  { type: "function_call", call_id: "call-2", name: "send_to_claude_code", arguments: { text: "fix tests" } },
  { type: "function_result", call_id: "call-2", name: "send_to_claude_code", ok: false, result: "Claude Code is not reachable." },
].map((m, i) => parseServerMessage(JSON.stringify({ ...m, timestamp: `2026-12-02T08:00:0${i}+00:00` }))!);

describe("Transcript with tool cards", () => {
  it("renders lines and cards, with their test ids, from a message sequence", () => {
    const view = sequence.reduce(applyMessage, emptyConversation);
    render(<Transcript view={view} empty="nothing yet" />);

    const transcript = screen.getByTestId("transcript");
    expect(transcript.getAttribute("aria-live")).toBe("polite");
    const lines = screen.getAllByTestId("transcript-line");
    expect(lines.map((l) => l.getAttribute("data-role"))).toEqual(["user", "assistant"]);

    const cards = screen.getAllByTestId("tool-card");
    expect(cards.map((c) => [c.dataset.callId, c.dataset.name, c.dataset.status])).toEqual([
      ["call-1", "send_to_nested", "done"],
      ["call-2", "send_to_claude_code", "failed"],
    ]);
    const team = within(cards[0]!);
    expect(team.getAllByTestId("tool-progress").map((p) => p.textContent)).toEqual([
      "[TEAM poet] Autumn moon rises",
      "[TEAM RESULT] A haiku.",
    ]);
    expect(team.getByTestId("tool-result").textContent).toContain("I've handed that to the team.");
    expect(within(cards[1]!).getByTestId("tool-result").textContent).toContain("not reachable");

    // Items appear in the order they happened: the first card sits between the two lines.
    const order = Array.from(transcript.querySelectorAll("[data-testid]")).map((e) => e.getAttribute("data-testid"));
    expect(order.filter((t) => t === "transcript-line" || t === "tool-card")).toEqual([
      "transcript-line",
      "tool-card",
      "transcript-line",
      "tool-card",
    ]);
  });

  it("shows the running state while the team works", () => {
    const view = sequence.slice(0, 3).reduce(applyMessage, emptyConversation);
    render(<Transcript view={view} empty="nothing yet" />);
    expect(screen.getByTestId("tool-card").dataset.status).toBe("running");
  });

  it("names the device on user lines only when more than one took part", () => {
    const msg = (m: object) => parseServerMessage(JSON.stringify(m))!;
    const alone = [
      msg({ type: "session", state: "started", session_id: "s", conversation_id: "c", device: "Laptop" }),
      msg({ type: "transcription", role: "user", text: "hello", device: "Laptop" }),
      msg({ type: "transcription", role: "assistant", text: "Hi!" }),
    ].reduce(applyMessage, emptyConversation);
    const { rerender } = render(<Transcript view={alone} empty="" thisDevice="Laptop" />);
    expect(screen.getAllByTestId("line-speaker").map((s) => s.textContent)).toEqual(["You", "Assistant"]);

    const shared = [
      msg({ type: "floor", device: "Phone" }),
      msg({ type: "transcription", role: "user", text: "and me", device: "Phone" }),
    ].reduce(applyMessage, alone);
    rerender(<Transcript view={shared} empty="" thisDevice="Laptop" />);
    expect(screen.getAllByTestId("line-speaker").map((s) => s.textContent)).toEqual(["Laptop (you)", "Assistant", "Phone"]);
    const users = screen.getAllByTestId("transcript-line").filter((l) => l.dataset.role === "user");
    expect(users.map((l) => l.dataset.device)).toEqual(["Laptop", "Phone"]);

    // On the phone's page, the same lines: its own marked, the laptop's named.
    rerender(<Transcript view={shared} empty="" thisDevice="Phone" />);
    expect(screen.getAllByTestId("line-speaker").map((s) => s.textContent)).toEqual(["Laptop", "Assistant", "Phone (you)"]);
  });
});
