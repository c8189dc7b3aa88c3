// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RESUMING_MESSAGE } from "../session/connection";
import { FakeSocket } from "../testing/fakes";
import { VoicePage } from "./VoicePage";

// The page builds its own session: its audio is a do-nothing port, its sockets are fakes the test
// plays the gateway's side of.
vi.mock("../audio/engine", () => ({
  AudioEngine: {
    start: async () => ({
      setMicMuted: () => undefined,
      setSpeakerMuted: () => undefined,
      play: () => undefined,
      clearPlayback: () => undefined,
      assistantStopped: () => undefined,
      stop: async () => undefined,
    }),
  },
}));

let sockets: FakeSocket[] = [];

beforeEach(() => {
  sockets = [];
  vi.stubGlobal(
    "WebSocket",
    class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderPage() {
  // Fresh: a conversation just created here, so nothing stored is asked for.
  return render(
    <MemoryRouter initialEntries={[{ pathname: "/voice/conv-1", state: { fresh: true } }]}>
      <Routes>
        <Route path="/voice/:conversationId" element={<VoicePage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("VoicePage", () => {
  it("says what the connection is doing beside its state while a dropped session is resumed", async () => {
    renderPage();
    const state = screen.getByTestId("connection-state");
    const message = screen.getByTestId("connection-message");
    expect(message.textContent).toBe("");
    fireEvent.click(screen.getByTestId("start-stop"));
    await waitFor(() => expect(sockets).toHaveLength(1));
    act(() => {
      sockets[0]!.open();
      sockets[0]!.receive({ type: "session", state: "started", session_id: "0123456789abcdef0123456789abcdef", conversation_id: "conv-1", resume_key: "k".repeat(32), resume_s: 30 });
    });
    expect(state.textContent).toBe("connected");
    expect(message.textContent).toBe("");

    act(() => sockets[0]!.serverClose(1006));
    expect(state.textContent).toBe("reconnecting");
    expect(message.textContent).toBe(RESUMING_MESSAGE);
    // Still said while the resume's socket opens and the gateway has not answered yet.
    await waitFor(() => expect(sockets).toHaveLength(2));
    act(() => sockets[1]!.open());
    expect(message.textContent).toBe(RESUMING_MESSAGE);
    expect(screen.queryByRole("alert")).toBeNull(); // not an error: nothing in the banner

    act(() => sockets[1]!.receive({ type: "session", state: "resumed", session_id: "0123456789abcdef0123456789abcdef", conversation_id: "conv-1", received: 0, replayed: 0, skipped: 0 }));
    expect(state.textContent).toBe("connected");
    expect(message.textContent).toBe(""); // cleared: nothing to say any more
  });
});
