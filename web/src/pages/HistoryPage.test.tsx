// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setToken } from "../api/token";
import type { ConversationDetail, Recording } from "../api/types";
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
let recordings: Recording[] = [];

beforeEach(() => {
  calls = [];
  recordings = [];
  vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({ url, method, body: init.body ? JSON.parse(String(init.body)) : null });
    if (url.endsWith("/recordings")) return new Response(JSON.stringify(recordings), { status: 200 });
    if (url.includes("/recordings/")) return new Response(new Uint8Array([102, 76, 97, 67]), { status: 200 });
    if (method === "PUT") return new Response(JSON.stringify({ ...detail, name: "Haiku day", events: undefined }), { status: 200 });
    if (method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify(detail), { status: 200 });
  });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setToken("");
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

  describe("with a recording", () => {
    const recording: Recording = {
      id: "f".repeat(32),
      conversation_id: "conv-1",
      session_id: "a".repeat(32),
      started_at: "2026-12-02T07:59:58Z", // 2 s before the first event
      finished_at: "2026-12-02T08:00:10Z",
      duration_s: 12,
      bytes: 48000,
      format: "flac",
      sample_rate: 24000,
      channels: 2,
      state: "finished",
    };

    const original = {
      createObjectURL: URL.createObjectURL,
      revokeObjectURL: URL.revokeObjectURL,
      scrollIntoView: Element.prototype.scrollIntoView,
    };
    afterEach(() => {
      URL.createObjectURL = original.createObjectURL;
      URL.revokeObjectURL = original.revokeObjectURL;
      Element.prototype.scrollIntoView = original.scrollIntoView;
    });

    function playAt(audio: HTMLAudioElement, seconds: number) {
      Object.defineProperty(audio, "currentTime", { configurable: true, value: seconds });
      fireEvent.timeUpdate(audio);
    }

    it("plays it, highlights the transcript line being said and scrolls it into view", async () => {
      recordings = [recording, { ...recording, id: "e".repeat(32), state: "recording", finished_at: null }];
      const scrolled: string[] = [];
      Element.prototype.scrollIntoView = function (this: Element) {
        scrolled.push(this.textContent ?? "");
      };
      renderAt("/history/conv-1");
      const audio = (await screen.findByTestId("recording-audio")) as HTMLAudioElement;
      const url = `/api/realtime/conversations/conv-1/recordings/${"f".repeat(32)}`;
      await waitFor(() => expect(audio.getAttribute("src")).toBe(url));
      expect(screen.getByTestId("recording-in-progress").textContent).toMatch(/still being recorded/);
      const download = screen.getByTestId("recording-download");
      expect(download.getAttribute("href")).toMatch(new RegExp(`${url}$`));
      expect(download.getAttribute("download")).toBe(`recording-conv-1-${"f".repeat(32)}.flac`);

      const highlighted = () => screen.getAllByTestId("history-event").filter((e) => e.getAttribute("aria-current") === "true");
      expect(highlighted()).toEqual([]);
      playAt(audio, 1.5); // 07:59:59.5: "hello there" (stamped at 08:00:00) is being said
      await waitFor(() => expect(highlighted().map((e) => e.dataset.kind)).toEqual(["transcript"]));
      expect(highlighted()[0]!.textContent).toContain("hello there");
      expect(highlighted()[0]!.className).toContain("playing");
      expect(scrolled.some((text) => text.includes("hello there"))).toBe(true);
      playAt(audio, 8); // 08:00:06: nothing is being said
      await waitFor(() => expect(highlighted()).toEqual([]));
    });

    it("fetches the audio with the token when one is set (an element cannot send the header)", async () => {
      setToken("secret");
      const objectUrls: Blob[] = [];
      URL.createObjectURL = (blob: Blob) => {
        objectUrls.push(blob);
        return "blob:recording";
      };
      URL.revokeObjectURL = () => undefined;
      recordings = [recording];
      renderAt("/history/conv-1");
      const audio = await screen.findByTestId("recording-audio");
      await waitFor(() => expect(audio.getAttribute("src")).toBe("blob:recording"));
      expect(objectUrls).toHaveLength(1);
      const fetched = calls.find((c) => c.url.endsWith(`/recordings/${"f".repeat(32)}`));
      expect(fetched?.method).toBe("GET");
    });

    it("shows nothing when the conversation has no recording", async () => {
      renderAt("/history/conv-1");
      await screen.findAllByTestId("history-event");
      expect(calls.map((c) => c.url)).toContain("/api/realtime/conversations/conv-1/recordings");
      expect(screen.queryByTestId("recording")).toBeNull();
    });
  });
});
