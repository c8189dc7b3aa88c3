import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { ServerMessage } from "../protocol/messages";
import { PING_INTERVAL_MS, STOP_GRACE_MS, VoiceConnection, type SocketUrl } from "./connection";
import { FakeClock, FakeSocket } from "../testing/fakes";
import { ReconnectPolicy, type ConnectionState } from "./reconnect";

function setup(url: SocketUrl = () => "ws://host/api/realtime/pipecat/ws/conv-1?format=raw") {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  const messages: ServerMessage[] = [];
  const audio: ArrayBuffer[] = [];
  let lastMessage: string | null = null;
  const connection = new VoiceConnection(
    url,
    {
      onState: (s, m) => {
        states.push(s);
        lastMessage = m;
      },
      onMessage: (m) => messages.push(m),
      onAudio: (a) => audio.push(a),
    },
    clock.deps(sockets),
    new ReconnectPolicy({ baseMs: 1000, factor: 2, maxMs: 8000, jitter: 0, stableMs: 10_000, maxAttempts: 20 }),
  );
  return { clock, sockets, states, messages, audio, connection, lastMessage: () => lastMessage };
}

describe("VoiceConnection", () => {
  it("connects, passes messages and audio through, and sends audio only while open", () => {
    const t = setup();
    t.connection.start();
    expect(t.connection.state).toBe("connecting");
    expect(t.sockets[0]!.binaryType).toBe("arraybuffer");
    expect(t.connection.sendAudio(new ArrayBuffer(960))).toBe(false);
    t.sockets[0]!.open();
    expect(t.connection.state).toBe("connected");
    expect(t.connection.sendAudio(new ArrayBuffer(960))).toBe(true);
    t.sockets[0]!.receive({ type: "transcription", role: "user", text: "hi" });
    t.sockets[0]!.receive("not json");
    t.sockets[0]!.receive({ type: "from_the_future" });
    t.sockets[0]!.receive(new ArrayBuffer(1920));
    expect(t.messages.map((m) => m.type)).toEqual(["transcription"]);
    expect(t.audio).toHaveLength(1);
  });

  it("pings every 15 s while connected", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.open();
    t.clock.advance(PING_INTERVAL_MS * 3);
    const pings = t.sockets[0]!.json().filter((m) => m.type === "ping");
    expect(pings).toHaveLength(3);
    expect(new Set(pings.map((p) => p.id)).size).toBe(3);
  });

  it("reconnects to the same URL with growing delays after drops, then resets once stable", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.serverClose(1006);
    expect(t.connection.state).toBe("reconnecting");
    t.clock.advance(999);
    expect(t.sockets).toHaveLength(1);
    t.clock.advance(1);
    expect(t.sockets).toHaveLength(2);
    t.sockets[1]!.serverClose(1011);
    t.clock.advance(1999);
    expect(t.sockets).toHaveLength(2);
    t.clock.advance(1);
    expect(t.sockets).toHaveLength(3);
    expect(new Set(t.sockets.map((s) => s.url)).size).toBe(1);
    t.sockets[2]!.open();
    expect(t.connection.state).toBe("connected");
    t.clock.advance(10_000); // stable
    t.sockets[2]!.serverClose(1001);
    t.clock.advance(1000); // back to the first delay
    expect(t.sockets).toHaveLength(4);
    expect(t.states).toEqual(["connecting", "reconnecting", "reconnecting", "connected", "reconnecting"]);
  });

  it("stops for good on 1008 and says why", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.open();
    t.sockets[0]!.serverClose(1008, "a valid token is required");
    expect(t.connection.state).toBe("error");
    expect(t.lastMessage()).toMatch(/token/);
    t.clock.advance(60_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("on Stop sends `stop`, closes after the final session message, and does not reconnect", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.open();
    t.connection.stop();
    expect(t.sockets[0]!.json().map((m) => m.type)).toEqual(["stop"]);
    expect(t.connection.sendAudio(new ArrayBuffer(960))).toBe(false);
    t.sockets[0]!.receive({ type: "session", state: "stopped", session_id: "s", conversation_id: "c", reason: "client_closed" });
    expect(t.sockets[0]!.closedWith?.code).toBe(1000);
    t.sockets[0]!.serverClose(1000, "client_closed");
    expect(t.connection.state).toBe("closed");
    t.clock.advance(60_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("on Stop closes anyway when the gateway does not answer in time", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.open();
    t.connection.stop();
    t.clock.advance(STOP_GRACE_MS);
    expect(t.sockets[0]!.closedWith?.code).toBe(1000);
    t.sockets[0]!.serverClose(1006); // even an abnormal close after Stop is the end
    expect(t.connection.state).toBe("closed");
    t.clock.advance(60_000);
    expect(t.sockets).toHaveLength(1);
  });

  it("Stop during a reconnect wait cancels the retry", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.serverClose(1006);
    t.connection.stop();
    expect(t.connection.state).toBe("closed");
    t.clock.advance(60_000);
    expect(t.sockets).toHaveLength(1);
    expect(t.clock.pending).toBe(0);
  });

  it("does not reconnect after the operator stopped the session", () => {
    const t = setup();
    t.connection.start();
    t.sockets[0]!.open();
    t.sockets[0]!.receive({ type: "session", state: "stopped", session_id: "s", conversation_id: "c", reason: "stopped" });
    t.sockets[0]!.serverClose(1000, "stopped");
    expect(t.connection.state).toBe("closed");
    t.clock.advance(60_000);
    expect(t.sockets).toHaveLength(1);
  });

  describe("with a URL that takes a round trip (a ticket per attempt)", () => {
    /** URLs handed out one by one, each on a promise the test settles. */
    function ticketed() {
      const pending: { resolve: () => void; reject: (error: unknown) => void }[] = [];
      let issued = 0;
      const url: SocketUrl = () =>
        new Promise<string>((resolve, reject) => {
          const n = ++issued;
          pending.push({ resolve: () => resolve(`ws://host/ws/conv-1?format=raw&ticket=t${n}`), reject });
        });
      return { url, pending, issued: () => issued };
    }
    const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

    it("asks for a fresh URL on every attempt, reconnects included", async () => {
      const tickets = ticketed();
      const t = setup(tickets.url);
      t.connection.start();
      expect(t.connection.state).toBe("connecting");
      expect(t.sockets).toHaveLength(0); // not before the ticket arrives
      tickets.pending[0]!.resolve();
      await settle();
      expect(t.sockets.map((s) => s.url)).toEqual(["ws://host/ws/conv-1?format=raw&ticket=t1"]);
      t.sockets[0]!.open();
      t.sockets[0]!.serverClose(1006);
      t.clock.advance(1000);
      expect(tickets.issued()).toBe(2);
      tickets.pending[1]!.resolve();
      await settle();
      expect(t.sockets.map((s) => s.url)).toEqual([
        "ws://host/ws/conv-1?format=raw&ticket=t1",
        "ws://host/ws/conv-1?format=raw&ticket=t2",
      ]);
    });

    it("opens nothing when Stop comes while the ticket is on its way", async () => {
      const tickets = ticketed();
      const t = setup(tickets.url);
      t.connection.start();
      t.connection.stop();
      expect(t.connection.state).toBe("closed");
      tickets.pending[0]!.resolve();
      await settle();
      expect(t.sockets).toHaveLength(0);
      t.connection.start(); // a new start asks again; the old answer stays dropped
      tickets.pending[1]!.resolve();
      await settle();
      expect(t.sockets.map((s) => s.url)).toEqual(["ws://host/ws/conv-1?format=raw&ticket=t2"]);
    });

    it("stops for good when the token is refused, and says why", async () => {
      const tickets = ticketed();
      const t = setup(tickets.url);
      t.connection.start();
      tickets.pending[0]!.reject(new ApiError(401, "Access token required or invalid: set it in Settings."));
      await settle();
      expect(t.connection.state).toBe("error");
      expect(t.lastMessage()).toMatch(/token/);
      t.clock.advance(60_000);
      expect(tickets.issued()).toBe(1);
      expect(t.sockets).toHaveLength(0);
    });

    it("retries with backoff when the ticket cannot be had for now", async () => {
      const tickets = ticketed();
      const t = setup(tickets.url);
      t.connection.start();
      tickets.pending[0]!.reject(new ApiError(503, "503 the service is restarting"));
      await settle();
      expect(t.connection.state).toBe("reconnecting");
      t.clock.advance(999);
      expect(tickets.issued()).toBe(1);
      t.clock.advance(1);
      expect(tickets.issued()).toBe(2);
      tickets.pending[1]!.reject(new TypeError("Failed to fetch")); // the network, this time
      await settle();
      t.clock.advance(2000);
      tickets.pending[2]!.resolve();
      await settle();
      t.sockets[0]!.open();
      expect(t.connection.state).toBe("connected");
      expect(t.states).toEqual(["connecting", "reconnecting", "reconnecting", "connected"]);
    });
  });
});
