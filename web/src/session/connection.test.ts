import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { ServerMessage } from "../protocol/messages";
import { PING_INTERVAL_MS, RESUMING_MESSAGE, STOP_GRACE_MS, VoiceConnection, type SocketUrl } from "./connection";
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

/** Socket `index` refused with 4004 ("no live session"): an error with the gateway's reason,
 * and no further attempt however long one waits (`total` sockets in all). */
function expectJoinRefusedForGood(t: ReturnType<typeof setup>, index: number, total: number): void {
  t.sockets[index]!.serverClose(4004, "this conversation has no live session");
  expect(t.connection.state).toBe("error");
  expect(t.lastMessage()).toBe("Cannot join the live session: this conversation has no live session.");
  t.clock.advance(60_000);
  expect(t.sockets).toHaveLength(total);
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

  describe("resuming a dropped session", () => {
    const SESSION = "0123456789abcdef0123456789abcdef";
    const KEY = "rk-" + "x".repeat(29);
    const BASE = "ws://host/api/realtime/pipecat/ws/conv-1?format=raw";
    const resumeUrl: SocketUrl = (resume, join) =>
      resume ? `${BASE}&resume=${resume}` : join ? `${BASE}&join=live&role=${join}` : BASE;
    const started = (resume_s = 30, session_id = SESSION) => ({
      type: "session",
      state: "started",
      session_id,
      conversation_id: "conv-1",
      resume_key: KEY,
      resume_s,
    });
    const answer = (received: number, replayed = 0) => ({
      type: "session",
      state: "resumed",
      session_id: SESSION,
      conversation_id: "conv-1",
      received,
      replayed,
      skipped: 0,
    });
    /** A 20 ms frame whose bytes all say which it is. */
    const frame = (tag: number) => new Uint8Array(960).fill(tag).buffer;
    const tags = (sent: (string | ArrayBuffer)[]) =>
      sent.map((f) => (typeof f === "string" ? (JSON.parse(f) as { type: string }).type : new Uint8Array(f)[0]));

    /** Connected, `started` received, and `sent` frames (tags 1..) sent live. */
    function live(sent = 0, resume_s = 30) {
      const t = setup(resumeUrl);
      t.connection.start();
      t.sockets[0]!.open();
      t.sockets[0]!.receive(started(resume_s));
      for (let i = 1; i <= sent; i++) expect(t.connection.sendAudio(frame(i))).toBe(true);
      return t;
    }

    it("reconnects at once with ?resume=, asking for the session with the frames it received", () => {
      const t = live(3);
      t.sockets[0]!.receive(new ArrayBuffer(1920));
      t.sockets[0]!.receive("not json"); // a frame all the same
      t.sockets[0]!.serverClose(1006);
      expect(t.connection.state).toBe("reconnecting");
      expect(t.lastMessage()).toBe(RESUMING_MESSAGE);
      expect(t.sockets).toHaveLength(1);
      t.clock.advance(0); // not after the backoff's first delay
      expect(t.sockets.map((s) => s.url)).toEqual([BASE, `${BASE}&resume=${SESSION}`]);
      t.sockets[1]!.open();
      expect(t.sockets[1]!.json()).toEqual([{ type: "resume", resume_key: KEY, received: 3 }]);
      expect(t.connection.state).toBe("reconnecting"); // until the gateway answers
    });

    it("after the answer, sends again what the gateway did not get, in order, then goes on live", () => {
      const t = live(3); // tags 1, 2, 3 sent
      t.sockets[0]!.serverClose(1006);
      // What the microphone captures meanwhile is kept, not dropped.
      expect(t.connection.sendAudio(frame(4))).toBe(true);
      t.clock.advance(0);
      expect(t.connection.sendAudio(frame(5))).toBe(true); // the resume's socket is opening
      const next = t.sockets[1]!;
      next.open();
      expect(t.connection.sendAudio(frame(6))).toBe(true); // waiting for the answer
      expect(next.sent).toHaveLength(1); // the request only
      next.receive(answer(2, 1)); // frames 0 and 1 (tags 1, 2) arrived
      expect(t.connection.state).toBe("connected");
      expect(tags(next.sent)).toEqual(["resume", 3, 4, 5, 6]);
      t.connection.sendAudio(frame(7));
      expect(tags(next.sent)).toEqual(["resume", 3, 4, 5, 6, 7]);
      expect(t.states).toEqual(["connecting", "connected", "reconnecting", "connected"]);
      // The frames sent again flow to the app as any others; the answer itself is not counted.
      next.receive({ type: "transcription", role: "assistant", text: "what you missed" });
      next.receive(new ArrayBuffer(1920));
      expect(t.messages.map((m) => m.type)).toEqual(["session", "session", "transcription"]);
      expect(t.messages[1]).toMatchObject({ state: "resumed", received: 2 });
      expect(t.audio).toHaveLength(1);
      expect(t.connection.frames).toMatchObject({ received: 3, sent: 7, dropped: 0 });
      // A second drop counts across both connections.
      next.serverClose(1006);
      t.clock.advance(0);
      t.sockets[2]!.open();
      expect(t.sockets[2]!.json()).toEqual([{ type: "resume", resume_key: KEY, received: 3 }]);
      t.sockets[2]!.receive(answer(7));
      expect(tags(t.sockets[2]!.sent)).toEqual(["resume"]); // everything had arrived
      expect(t.connection.state).toBe("connected");
    });

    it("keeps pings and stats in the count, and sends them again like audio", () => {
      const t = live(1);
      t.clock.advance(PING_INTERVAL_MS); // a ping: frame 1
      t.connection.sendAudio(frame(2));
      t.sockets[0]!.serverClose(1006);
      t.connection.sendStats({ type: "client_stats", played_ms: 500, underruns: 0, underrun_ms: 0, buffer_ms: 60 });
      t.clock.advance(0);
      t.sockets[1]!.open();
      t.sockets[1]!.receive(answer(1));
      expect(tags(t.sockets[1]!.sent)).toEqual(["resume", "ping", 2, "client_stats"]);
    });

    it("follows the backoff after the first attempt; once the window passed, joins back or starts a new session", () => {
      const t = live(2, 5); // the gateway waits 5 s
      t.sockets[0]!.serverClose(1006);
      t.connection.sendAudio(frame(3));
      t.clock.advance(0);
      t.sockets[1]!.serverClose(1006); // still unreachable
      t.clock.advance(1999);
      expect(t.sockets).toHaveLength(2);
      t.clock.advance(1);
      expect(t.sockets[2]!.url).toBe(`${BASE}&resume=${SESSION}`);
      t.sockets[2]!.serverClose(1006);
      expect(t.lastMessage()).toBe(RESUMING_MESSAGE);
      t.clock.advance(4000); // 6 s after the drop: the session stopped waiting for this device
      expect(t.sockets).toHaveLength(4);
      expect(t.sockets[3]!.url).toBe(`${BASE}&join=live&role=speaker`); // others may have kept it
      expect(t.connection.resuming).toBe(false);
      expect(t.connection.sendAudio(frame(4))).toBe(false); // no session to keep it for
      t.sockets[3]!.open();
      t.sockets[3]!.serverClose(4004, "this conversation has no live session");
      t.clock.advance(0); // nothing live: a new session, at once
      expect(t.sockets).toHaveLength(5);
      t.sockets[4]!.open();
      expect(t.connection.state).toBe("connected");
      expect(t.connection.frames).toMatchObject({ received: 0, sent: 0 });
      t.connection.sendAudio(frame(5));
      expect(tags(t.sockets[4]!.sent)).toEqual([5]);
    });

    it("on 4002 forgets the session; with no live session to join back, starts a new one at once, counting afresh", () => {
      const t = live(2);
      t.sockets[0]!.receive(new ArrayBuffer(1920));
      t.sockets[0]!.serverClose(1006);
      t.connection.sendAudio(frame(3));
      t.clock.advance(0);
      t.sockets[1]!.open();
      t.sockets[1]!.serverClose(4002, `no session ${SESSION} to resume: it ended or expired`);
      expect(t.connection.state).toBe("reconnecting");
      expect(t.connection.sendAudio(frame(4))).toBe(false);
      t.clock.advance(0); // the join back, refused: nothing live
      t.sockets[2]!.open();
      t.sockets[2]!.serverClose(4004, "this conversation has no live session");
      t.clock.advance(0);
      expect(t.sockets.map((s) => s.url)).toEqual([
        BASE,
        `${BASE}&resume=${SESSION}`,
        `${BASE}&join=live&role=speaker`,
        BASE,
      ]);
      const fresh = t.sockets[3]!;
      fresh.open();
      expect(t.connection.state).toBe("connected");
      expect(t.connection.frames).toMatchObject({ received: 0, sent: 0, kept: 0 });
      fresh.receive(started(30, "fedcba9876543210fedcba9876543210"));
      t.connection.sendAudio(frame(5));
      expect(tags(fresh.sent)).toEqual([5]);
      // The new session resumes with its own id and count.
      fresh.serverClose(1006);
      t.clock.advance(0);
      expect(t.sockets[4]!.url).toBe(`${BASE}&resume=fedcba9876543210fedcba9876543210`);
      t.sockets[4]!.open();
      expect(t.sockets[4]!.json()).toEqual([{ type: "resume", resume_key: KEY, received: 1 }]);
    });

    it("on 4003 does not reconnect: another connection carries the session on", () => {
      const t = live(1);
      t.sockets[0]!.serverClose(4003, "resumed on another connection");
      expect(t.connection.state).toBe("closed");
      expect(t.lastMessage()).toMatch(/another connection/);
      expect(t.connection.sendAudio(frame(2))).toBe(false);
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(1);
    });

    it("does not resume a session that said it stopped", () => {
      const t = live(1);
      t.sockets[0]!.receive({ type: "session", state: "stopped", session_id: SESSION, conversation_id: "conv-1", reason: "upstream_error" });
      t.sockets[0]!.serverClose(1011, "upstream_error");
      expect(t.connection.state).toBe("reconnecting");
      expect(t.lastMessage()).toMatch(/retrying in 1.0 s/);
      expect(t.connection.sendAudio(frame(2))).toBe(false);
      t.clock.advance(999);
      expect(t.sockets).toHaveLength(1);
      t.clock.advance(1);
      expect(t.sockets[1]!.url).toBe(BASE);
    });

    it("does not resume a session that ended as somebody meant", () => {
      const t = live(1);
      t.sockets[0]!.receive({ type: "session", state: "stopped", session_id: SESSION, conversation_id: "conv-1", reason: "resume_expired" });
      t.sockets[0]!.serverClose(1000, "resume_expired");
      expect(t.connection.state).toBe("closed");
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(1);
    });

    it("keeps at most the window's audio while away: the oldest go, and are counted", () => {
      const t = live(10, 1); // one second: 50 frames of 20 ms; tags 1..10 sent
      t.sockets[0]!.serverClose(1006);
      for (let i = 11; i <= 70; i++) t.connection.sendAudio(frame(i)); // 1.2 s captured
      expect(t.connection.frames).toMatchObject({ sent: 70, kept: 50, dropped: 10 }); // 11..20 went
      t.clock.advance(0);
      t.sockets[1]!.open();
      t.sockets[1]!.receive(answer(10)); // all ten sent frames arrived
      expect(tags(t.sockets[1]!.sent)).toEqual(["resume", ...Array.from({ length: 50 }, (_, i) => i + 21)]);
      // Numbered on as the gateway counts them: a later resume lines up.
      t.sockets[1]!.serverClose(1006);
      t.clock.advance(0);
      t.sockets[2]!.open();
      t.sockets[2]!.receive(answer(58)); // the first 48 of the 50 sent again arrived
      expect(tags(t.sockets[2]!.sent)).toEqual(["resume", 69, 70]);
    });

    it("Stop while resuming opens nothing more", () => {
      const t = live(1);
      t.sockets[0]!.serverClose(1006);
      t.connection.stop();
      expect(t.connection.state).toBe("closed");
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(1);
      expect(t.clock.pending).toBe(0);
    });

    it("Stop before the gateway answered sends `stop` after the request", () => {
      const t = live(1);
      t.sockets[0]!.serverClose(1006);
      t.clock.advance(0);
      t.sockets[1]!.open();
      t.connection.stop();
      expect(t.sockets[1]!.json().map((m) => m.type)).toEqual(["resume", "stop"]);
      t.sockets[1]!.serverClose(1000, "client_closed");
      expect(t.connection.state).toBe("closed");
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(2);
    });

    it("a session that gave no resume key is reconnected as before", () => {
      const t = setup(resumeUrl);
      t.connection.start();
      t.sockets[0]!.open();
      t.sockets[0]!.receive({ type: "session", state: "started", session_id: SESSION, conversation_id: "conv-1" });
      t.sockets[0]!.serverClose(1006);
      expect(t.connection.sendAudio(frame(1))).toBe(false);
      t.clock.advance(999);
      expect(t.sockets).toHaveLength(1);
      t.clock.advance(1);
      expect(t.sockets[1]!.url).toBe(BASE);
    });
  });

  describe("after a refused resume: joining the session back", () => {
    const SESSION = "0123456789abcdef0123456789abcdef";
    const OTHER = "fedcba9876543210fedcba9876543210";
    const BASE = "ws://host/api/realtime/pipecat/ws/conv-1?format=raw";
    // The name in Settings is "Renamed" by now: a join back carries the name the session knew.
    const url: SocketUrl = (resume, join, device) =>
      resume
        ? `${BASE}&resume=${resume}`
        : join
          ? `${BASE}&join=live&role=${join}&device=${device ?? "Renamed"}`
          : `${BASE}&device=${device ?? "Renamed"}`;
    const JOIN_BACK = `${BASE}&join=live&role=speaker&device=Laptop`;
    const started = (session_id = SESSION) => ({
      type: "session",
      state: "started",
      session_id,
      conversation_id: "conv-1",
      resume_key: "k".repeat(32),
      resume_s: 30,
      device: "Laptop",
    });
    const joined = { type: "session", state: "joined", session_id: SESSION, conversation_id: "conv-1", device: "Laptop", role: "speaker" };
    const LEFT = "this device left the session; join it again instead";
    const frame = () => new ArrayBuffer(960);

    /** A session started here, dropped, and its resume refused (4002): the join back is next. */
    function refused() {
      const t = setup(url);
      t.connection.start();
      t.sockets[0]!.open();
      t.sockets[0]!.receive(started());
      t.connection.sendAudio(frame());
      t.sockets[0]!.serverClose(1006);
      t.clock.advance(0);
      expect(t.sockets[1]!.url).toBe(`${BASE}&resume=${SESSION}`);
      t.sockets[1]!.open();
      t.sockets[1]!.serverClose(4002, LEFT);
      return t;
    }

    it("joins the live session back as a speaker, under its own name, and is a joined device from then on", () => {
      const t = refused();
      expect(t.connection.state).toBe("reconnecting");
      expect(t.lastMessage()).toBe(`The session could not be resumed (${LEFT}); joining its live session again…`);
      expect(t.connection.resuming).toBe(false);
      expect(t.connection.sendAudio(frame())).toBe(false); // nothing kept: no session to carry it to
      expect(t.sockets).toHaveLength(2);
      t.clock.advance(0); // at once
      expect(t.sockets[2]!.url).toBe(JOIN_BACK);
      expect(t.connection.joined).toBe("speaker");
      t.sockets[2]!.open();
      expect(t.sockets[2]!.sent).toHaveLength(0); // no resume request: a join says nothing first
      expect(t.connection.state).toBe("reconnecting"); // until the gateway says it joined
      t.sockets[2]!.receive(joined);
      expect(t.connection.state).toBe("connected");
      expect(t.lastMessage()).toBeNull();
      expect(t.messages.at(-1)).toMatchObject({ type: "session", state: "joined", role: "speaker" });
      expect(t.connection.sendAudio(frame())).toBe(true); // a speaker speaks
      t.connection.sendStats({ type: "client_stats", played_ms: 500, underruns: 0, underrun_ms: 0, buffer_ms: 60 });
      expect(t.sockets[2]!.sent.map((f) => typeof f)).toEqual(["object"]); // the audio; no stats from a joined device
      // Dropped now, it joins again like any joined device: with the backoff (counting on from the
      // first drop: the connection is still not stable), the same name, no resume.
      t.sockets[2]!.serverClose(1006);
      expect(t.lastMessage()).toBe("Connection lost; joining again in 2.0 s.");
      t.clock.advance(1999);
      expect(t.sockets).toHaveLength(3);
      t.clock.advance(1);
      expect(t.sockets[3]!.url).toBe(JOIN_BACK);
      // And refused then (the session ended meanwhile), it ends as a joined device does.
      t.sockets[3]!.open();
      expectJoinRefusedForGood(t, 3, 4);
    });

    it("starts a new session when there is no live session to join back (4004)", () => {
      const t = refused();
      t.clock.advance(0);
      t.sockets[2]!.open();
      t.sockets[2]!.serverClose(4004, "this conversation has no live session");
      expect(t.connection.state).toBe("reconnecting");
      expect(t.lastMessage()).toBe("The live session could not be joined again (this conversation has no live session); starting a new one…");
      expect(t.connection.joined).toBeNull();
      t.clock.advance(0); // at once
      expect(t.sockets[3]!.url).toBe(`${BASE}&device=Renamed`); // a new session: the name in Settings
      t.sockets[3]!.open();
      expect(t.connection.state).toBe("connected"); // no answer to wait for
      t.sockets[3]!.receive(started(OTHER));
      expect(t.connection.sendAudio(frame())).toBe(true);
      expect(t.connection.frames).toMatchObject({ received: 1, sent: 1 });
      // The new session is resumable, and joined back under its own name in turn.
      t.sockets[3]!.serverClose(1006);
      t.clock.advance(0);
      expect(t.sockets[4]!.url).toBe(`${BASE}&resume=${OTHER}`);
      t.sockets[4]!.open();
      t.sockets[4]!.serverClose(4002, LEFT);
      t.clock.advance(0);
      expect(t.sockets[5]!.url).toBe(JOIN_BACK);
    });

    it("keeps trying to join back through drops, with the backoff; a refusal then still starts a new session", () => {
      const t = refused();
      t.clock.advance(0);
      t.sockets[2]!.serverClose(1006); // the network again, before any answer
      expect(t.lastMessage()).toBe("Connection lost; joining again in 2.0 s."); // the second failure in a row
      t.clock.advance(1999);
      expect(t.sockets).toHaveLength(3);
      t.clock.advance(1);
      expect(t.sockets[3]!.url).toBe(JOIN_BACK);
      t.sockets[3]!.open();
      t.sockets[3]!.serverClose(4004, "this conversation has no live session");
      expect(t.lastMessage()).toMatch(/starting a new one…$/);
      t.clock.advance(0);
      expect(t.sockets[4]!.url).toBe(`${BASE}&device=Renamed`);
      t.sockets[4]!.open();
      expect(t.connection.state).toBe("connected");
      expect(t.states).toEqual(["connecting", "connected", "reconnecting", "reconnecting", "reconnecting", "reconnecting", "connected"]);
    });

    it("Stop while waiting to join back opens nothing more", () => {
      const t = refused();
      t.connection.stop();
      expect(t.connection.state).toBe("closed");
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(2);
      expect(t.clock.pending).toBe(0);
    });

    it("Stop while the join back awaits its answer leaves, and starts nothing even when the join is refused", () => {
      const t = refused();
      t.clock.advance(0);
      t.sockets[2]!.open();
      t.connection.stop();
      expect(t.sockets[2]!.json().map((m) => m.type)).toEqual(["stop"]);
      t.sockets[2]!.serverClose(4004, "this conversation has no live session");
      expect(t.connection.state).toBe("closed");
      expect(t.lastMessage()).toBeNull();
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(3);
      expect(t.clock.pending).toBe(0);
    });

    it("Stop while the join back's URL is on its way (a ticket) opens nothing", async () => {
      const pending: (() => void)[] = [];
      const t = setup((resume, join, device) =>
        new Promise<string>((resolve) => pending.push(() => resolve(url(resume, join, device) as string))),
      );
      const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
      t.connection.start();
      pending[0]!();
      await settle();
      t.sockets[0]!.open();
      t.sockets[0]!.receive(started());
      t.sockets[0]!.serverClose(1006);
      t.clock.advance(0);
      pending[1]!();
      await settle();
      t.sockets[1]!.open();
      t.sockets[1]!.serverClose(4002, LEFT);
      t.clock.advance(0);
      expect(pending).toHaveLength(3); // the join back's ticket is being asked for
      t.connection.stop();
      expect(t.connection.state).toBe("closed");
      pending[2]!();
      await settle();
      expect(t.sockets).toHaveLength(2);
      t.clock.advance(60_000);
      expect(pending).toHaveLength(3);
    });

    it("Start after all that starts a session of its own, under the name in Settings", () => {
      const t = refused();
      t.clock.advance(0);
      t.sockets[2]!.open();
      t.sockets[2]!.receive(joined);
      t.connection.stop();
      t.sockets[2]!.serverClose(1000, "left");
      t.connection.start();
      expect(t.connection.joined).toBeNull();
      expect(t.sockets[3]!.url).toBe(`${BASE}&device=Renamed`);
      t.connection.stop();
      t.sockets[3]!.serverClose(1000, "client stopped");
      t.connection.join("listener"); // and a join of the person's own uses it too
      expect(t.sockets[4]!.url).toBe(`${BASE}&join=live&role=listener&device=Renamed`);
    });
  });

  describe("joining the live session from another device", () => {
    const BASE = "ws://host/api/realtime/pipecat/ws/conv-1?format=raw";
    const joinUrl: SocketUrl = (resume, join) =>
      resume ? `${BASE}&resume=${resume}` : join ? `${BASE}&join=live&role=${join}&device=Phone` : `${BASE}&device=Phone`;
    const joined = (role = "speaker") => ({
      type: "session",
      state: "joined",
      session_id: "0123456789abcdef0123456789abcdef",
      conversation_id: "conv-1",
      device: "Phone",
      role,
    });
    const frame = () => new ArrayBuffer(960);

    it("opens ?join=live with its role, and is live once the gateway says it joined", () => {
      const t = setup(joinUrl);
      t.connection.join("speaker");
      expect(t.connection.joined).toBe("speaker");
      expect(t.sockets[0]!.url).toBe(`${BASE}&join=live&role=speaker&device=Phone`);
      t.sockets[0]!.open();
      expect(t.connection.state).toBe("connecting"); // not before the answer
      expect(t.connection.sendAudio(frame())).toBe(false);
      t.sockets[0]!.receive(joined());
      expect(t.connection.state).toBe("connected");
      expect(t.messages[0]).toMatchObject({ type: "session", state: "joined", device: "Phone", role: "speaker" });
      expect(t.connection.sendAudio(frame())).toBe(true);
      expect(t.sockets[0]!.sent.filter((f) => f instanceof ArrayBuffer)).toHaveLength(1);
      // Everything the session sends flows as for its own device.
      t.sockets[0]!.receive({ type: "floor", device: "Laptop" });
      t.sockets[0]!.receive({ type: "transcription", role: "user", text: "hi", device: "Laptop" });
      t.sockets[0]!.receive(new ArrayBuffer(1920));
      expect(t.messages.map((m) => m.type)).toEqual(["session", "floor", "transcription"]);
      expect(t.audio).toHaveLength(1);
    });

    it("a listener sends no audio, and nobody joined sends client_stats", () => {
      const t = setup(joinUrl);
      t.connection.join("listener");
      expect(t.sockets[0]!.url).toBe(`${BASE}&join=live&role=listener&device=Phone`);
      t.sockets[0]!.open();
      t.sockets[0]!.receive(joined("listener"));
      expect(t.connection.sendAudio(frame())).toBe(false);
      t.connection.sendStats({ type: "client_stats", played_ms: 500, underruns: 0, underrun_ms: 0, buffer_ms: 60 });
      expect(t.sockets[0]!.sent).toHaveLength(0);
    });

    it("has no resume: after a drop it joins again, with the backoff, and nothing kept", () => {
      const t = setup(joinUrl);
      t.connection.join("speaker");
      t.sockets[0]!.open();
      t.sockets[0]!.receive(joined());
      // Even a `started` seen here (it never should be) gives no resume key to this device.
      t.sockets[0]!.receive({ type: "session", state: "started", session_id: "s", conversation_id: "conv-1", resume_key: "k".repeat(32), resume_s: 30 });
      t.sockets[0]!.serverClose(1006);
      expect(t.connection.state).toBe("reconnecting");
      expect(t.connection.resuming).toBe(false);
      expect(t.lastMessage()).toMatch(/joining again in 1.0 s/);
      expect(t.connection.sendAudio(frame())).toBe(false); // not kept for later
      t.clock.advance(999);
      expect(t.sockets).toHaveLength(1);
      t.clock.advance(1);
      expect(t.sockets[1]!.url).toBe(`${BASE}&join=live&role=speaker&device=Phone`);
      t.sockets[1]!.open();
      expect(t.sockets[1]!.sent).toHaveLength(0); // no resume request, nothing sent again
      t.sockets[1]!.serverClose(1011);
      t.clock.advance(2000); // the backoff grows
      expect(t.sockets[2]!.url).toBe(`${BASE}&join=live&role=speaker&device=Phone`);
      t.sockets[2]!.open();
      t.sockets[2]!.receive(joined());
      expect(t.connection.state).toBe("connected");
      expect(t.states).toEqual(["connecting", "connected", "reconnecting", "reconnecting", "connected"]);
    });

    it("on 4004 stops with the gateway's reason, and does not retry", () => {
      const t = setup(joinUrl);
      t.connection.join("speaker");
      t.sockets[0]!.open();
      expectJoinRefusedForGood(t, 0, 1);
    });

    it("on a rejoin refused (the session ended meanwhile) stops with the reason too", () => {
      const t = setup(joinUrl);
      t.connection.join("listener");
      t.sockets[0]!.open();
      t.sockets[0]!.receive(joined("listener"));
      t.sockets[0]!.serverClose(1006);
      t.clock.advance(1000);
      t.sockets[1]!.open();
      expectJoinRefusedForGood(t, 1, 2);
    });

    it("leaving sends `stop` and ends on the gateway's close, without a reconnect", () => {
      const t = setup(joinUrl);
      t.connection.join("speaker");
      t.sockets[0]!.open();
      t.sockets[0]!.receive(joined());
      t.connection.stop();
      expect(t.sockets[0]!.json().map((m) => m.type)).toEqual(["stop"]);
      t.sockets[0]!.serverClose(1000, "left");
      expect(t.connection.state).toBe("closed");
      expect(t.lastMessage()).toBeNull();
      t.clock.advance(60_000);
      expect(t.sockets).toHaveLength(1);
    });

    it("Start after a join starts a session of its own again", () => {
      const t = setup(joinUrl);
      t.connection.join("listener");
      t.sockets[0]!.open();
      t.sockets[0]!.serverClose(4004, "this conversation has no live session");
      t.connection.start();
      expect(t.connection.joined).toBeNull();
      expect(t.sockets[1]!.url).toBe(`${BASE}&device=Phone`);
      t.sockets[1]!.open();
      expect(t.connection.state).toBe("connected"); // at once: no answer to wait for
    });
  });
});
