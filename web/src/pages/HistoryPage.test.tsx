// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConversationDetail } from "../api/types";
import { HistoryPage } from "./HistoryPage";

const detail: ConversationDetail = {
  id: "conv-1",
  name: null,
  created_at: "2026-12-02T08:00:00Z",
  updated_at: "2026-12-02T08:05:00Z",
  voice_model: null,
  metadata: {},
  event_count: 3,
  events: [
    { id: 1, event_id: "a", conversation_id: "conv-1", timestamp: "2026-12-02T08:00:00Z", source: "voice", type: "transcript", payload: { role: "user", text: "hello there" } },
    { id: 2, event_id: "b", conversation_id: "conv-1", timestamp: "2026-12-02T08:00:01Z", source: "voice", type: "function_call", payload: { call_id: "c", name: "pause", arguments: {} } },
    { id: 3, event_id: "c", conversation_id: "conv-1", timestamp: "2026-12-02T08:00:02Z", source: "nested_agent", type: "system", payload: { data: { message: "Initiating agent run" } } },
  ],
};

type Call = { url: string; method: string; body: unknown };
let calls: Call[] = [];

beforeEach(() => {
  calls = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({ url, method, body: init.body ? JSON.parse(String(init.body)) : null });
    if (method === "PUT") return new Response(JSON.stringify({ ...detail, name: "Haiku day", events: undefined }), { status: 200 });
    if (method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify(detail), { status: 200 });
  });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/" element={<p>the list</p>} />
        <Route path="/history/:conversationId" element={<HistoryPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("HistoryPage", () => {
  it("shows every stored event with its kind, and export links with the API's format parameter", async () => {
    renderAt("/history/conv-1");
    const events = await screen.findAllByTestId("history-event");
    expect(events.map((e) => e.dataset.kind)).toEqual(["transcript", "function_call", "system"]);
    expect(events[0]!.textContent).toContain("hello there");
    expect(events[2]!.textContent).toContain("Initiating agent run");
    expect(calls[0]!.url).toBe("/api/realtime/conversations/conv-1?limit=1000");
    expect(screen.getByTestId("export-json").getAttribute("href")).toMatch(/\/api\/realtime\/conversations\/conv-1\/export\?format=json$/);
    expect(screen.getByTestId("export-markdown").getAttribute("href")).toMatch(/\/export\?format=markdown$/);
  });

  it("renames with PUT {name}", async () => {
    renderAt("/history/conv-1");
    fireEvent.click(await screen.findByTestId("rename"));
    fireEvent.change(screen.getByTestId("rename-input"), { target: { value: "  Haiku day " } });
    fireEvent.click(screen.getByTestId("rename-save"));
    await screen.findByRole("heading", { name: "Haiku day" });
    expect(calls.find((c) => c.method === "PUT")).toEqual({
      url: "/api/realtime/conversations/conv-1",
      method: "PUT",
      body: { name: "Haiku day" },
    });
  });

  it("deletes only after confirmation, then goes back to the list", async () => {
    renderAt("/history/conv-1");
    fireEvent.click(await screen.findByTestId("delete"));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    fireEvent.click(screen.getByTestId("delete-confirm"));
    await screen.findByText("the list");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.url)).toEqual(["/api/realtime/conversations/conv-1"]);
  });

  it("says when a token is needed", async () => {
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ detail: "a valid token is required" }), { status: 401 }));
    renderAt("/history/conv-1");
    await waitFor(() => expect(screen.getByTestId("error-banner").textContent).toMatch(/token required or invalid/i));
  });
});
