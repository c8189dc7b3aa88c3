// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setToken } from "../api/token";
import { setRecordChoice } from "./recordChoice";
import type { StoredEvent } from "../api/types";
import { FakeClock, FakeSocket } from "../testing/fakes";
import { stats } from "./debugStats";
import type { HeardTurn } from "./earClock";
import { VoiceSession, type AudioPort } from "./voiceSession";

class FakeAudio implements AudioPort {
  played: ArrayBuffer[] = [];
  clears = 0;
  stops = 0; // the gateway said the assistant stopped speaking
  stopped = false;
  micMuted: boolean | null = null;
  speakerMuted: boolean | null = null;
  constructor(
    readonly sink: (frame: Int16Array) => void,
    readonly heard: (turn: HeardTurn) => void = () => undefined,
  ) {}
  setMicMuted(m: boolean) {
    this.micMuted = m;
  }
  setSpeakerMuted(m: boolean) {
    this.speakerMuted = m;
  }
  play(bytes: ArrayBuffer) {
    this.played.push(bytes);
  }
  clearPlayback() {
    this.clears++;
  }
  assistantStopped() {
    this.stops++;
  }
  async stop() {
    this.stopped = true;
  }
}

const DEVICE_ID = "laptop-device-id-0001";
const frame = (value: number) => new Int16Array(480).fill(value);

async function setup(history: StoredEvent[] | null = null, begin: (session: VoiceSession) => Promise<void> = (s) => s.start()) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  let audio: FakeAudio | null = null;
  const microphone: boolean[] = [];
  const session = new VoiceSession(
    "conv-test",
    async (sink, options) => {
      microphone.push(options.microphone);
      return (audio = new FakeAudio(sink, options.onHeard));
    },
    clock.deps(sockets),
    async () => (history === null ? null : { events: history }),
    () => "Laptop",
    undefined,
    () => DEVICE_ID,
  );
  await session.loadPast();
  await begin(session);
  return { session, sockets, clock, audio: () => audio!, microphone };
}

beforeEach(() => {
  stats.framesSent = stats.bytesSent = stats.framesDroppedMuted = stats.chunksReceived = stats.bytesReceived = 0;
  stats.maxFrameRms = stats.lastFrameRms = 0;
});

describe("VoiceSession", () => {
  it("sends 20 ms frames once connected and counts them", async () => {
    const { session, sockets, audio } = await setup();
    expect(sockets[0]!.url).toBe("ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&device=Laptop");
    audio().sink(frame(1000)); // not open yet: dropped, not counted
    sockets[0]!.open();
    expect(session.getSnapshot().state).toBe("connected");
    audio().sink(frame(16384));
    audio().sink(frame(0));
    const binary = sockets[0]!.sent.filter((s) => s instanceof ArrayBuffer) as ArrayBuffer[];
    expect(binary.map((b) => b.byteLength)).toEqual([960, 960]);
    expect(stats).toMatchObject({ framesSent: 2, bytesSent: 1920, frameSamples: 480, frameMs: 20, lastFrameRms: 0 });
    expect(stats.maxFrameRms).toBeCloseTo(0.5, 6);
  });

  it("sends nothing while the mic is muted, from the next frame on", async () => {
    const { session, sockets, audio } = await setup();
    sockets[0]!.open();
    session.toggleMic();
    expect(audio().micMuted).toBe(true);
    audio().sink(frame(1000));
    audio().sink(frame(1000));
    expect(sockets[0]!.sent).toHaveLength(0);
    expect(stats.framesDroppedMuted).toBe(2);
    session.toggleMic();
    audio().sink(frame(1000));
    expect(sockets[0]!.sent).toHaveLength(1);
  });

  it("plays the assistant's audio and drops the queue at once on interruption", async () => {
    const { session, sockets, audio } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive(new ArrayBuffer(1920));
    expect(audio().played).toHaveLength(1);
    expect(stats).toMatchObject({ chunksReceived: 1, bytesReceived: 1920 });
    sockets[0]!.receive({ type: "interruption" });
    expect(audio().clears).toBe(1);
    sockets[0]!.receive({ type: "latency", metric: "brain", ms: 12 });
    sockets[0]!.receive({ type: "latency", metric: "voice", ms: 795.4 });
    expect(session.getSnapshot().latencyMs).toBe(795.4);
  });

  it("pairs the gateway's voice latency with the one turn it timed", async () => {
    const { sockets, audio } = await setup();
    sockets[0]!.open();
    const now = vi.spyOn(performance, "now");
    const turn = (startedAt: number): HeardTurn => ({
      startedAt,
      endedAt: startedAt + 500,
      playedMs: 500,
      underruns: 0,
      underrunMs: 0,
      bufferMs: 60,
    });
    now.mockReturnValue(1000);
    audio().sink(frame(8000)); // the user speaks
    sockets[0]!.receive({ type: "latency", metric: "voice", ms: 700 });
    audio().heard(turn(1800));
    now.mockReturnValue(5000);
    audio().sink(frame(8000)); // speaks again, but the gateway times no reply this time
    audio().heard(turn(5900));
    now.mockRestore();
    const [timed, untimed] = stats.heardTurns.slice(-2);
    expect(timed).toMatchObject({ mouth_to_ear_ms: 800, gateway_voice_ms: 700 });
    // Heard after the user's voice, yet not the previous turn's figure.
    expect(untimed).toMatchObject({ mouth_to_ear_ms: 900, gateway_voice_ms: null });
  });

  it("shows the stored history first, then live messages after it", async () => {
    const { session, sockets } = await setup([
      {
        id: 1,
        event_id: "e1",
        conversation_id: "conv-test",
        timestamp: "2026-12-01T10:00:00Z",
        source: "voice",
        type: "transcript",
        payload: { role: "user", text: "yesterday" },
      },
    ]);
    sockets[0]!.open();
    sockets[0]!.receive({ type: "transcription", role: "assistant", text: "today" });
    expect(session.getSnapshot().view.lines.map((l) => l.text)).toEqual(["yesterday", "today"]);
    expect(session.getSnapshot().history).toBe("loaded");
  });

  it("keeps the transcript across a reconnect, on the same conversation", async () => {
    const { session, sockets, clock } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive({ type: "transcription", role: "user", text: "before the drop" });
    sockets[0]!.serverClose(1006);
    expect(session.getSnapshot().state).toBe("reconnecting");
    expect(session.getSnapshot().running).toBe(true);
    clock.advance(30_000);
    sockets[1]!.open();
    sockets[1]!.receive({ type: "transcription", role: "assistant", text: "after" });
    expect(sockets[1]!.url).toBe(sockets[0]!.url);
    expect(session.getSnapshot().view.lines.map((l) => l.text)).toEqual(["before the drop", "after"]);
  });

  it("resumes a dropped session: playback goes on, what was missed and said meanwhile flows", async () => {
    const { session, sockets, clock, audio } = await setup();
    const id = "0123456789abcdef0123456789abcdef";
    sockets[0]!.open();
    sockets[0]!.receive({ type: "session", state: "started", session_id: id, conversation_id: "conv-test", resume_key: "k".repeat(32), resume_s: 30 });
    sockets[0]!.receive({ type: "transcription", role: "user", text: "before the drop" });
    sockets[0]!.receive(new ArrayBuffer(1920));
    audio().sink(frame(1000));
    sockets[0]!.serverClose(1006);
    const during = session.getSnapshot();
    expect(during.state).toBe("reconnecting");
    expect(during.running).toBe(true);
    expect(during.error).toBeNull();
    expect(audio().clears).toBe(0); // what was received plays on
    audio().sink(frame(2000)); // kept for the resume
    expect(stats.framesSent).toBe(2);
    clock.advance(0);
    expect(sockets[1]!.url).toBe(`ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&resume=${id}`);
    sockets[1]!.open();
    expect(sockets[1]!.json()[0]).toEqual({ type: "resume", resume_key: "k".repeat(32), received: 3 });
    sockets[1]!.receive({ type: "session", state: "resumed", session_id: id, conversation_id: "conv-test", received: 1, replayed: 2, skipped: 0 });
    expect(session.getSnapshot().state).toBe("connected");
    const again = sockets[1]!.sent.slice(1) as ArrayBuffer[];
    expect(again.map((b) => new Int16Array(b)[0])).toEqual([2000]);
    sockets[1]!.receive({ type: "transcription", role: "assistant", text: "missed while away" });
    sockets[1]!.receive(new ArrayBuffer(1920));
    expect(session.getSnapshot().view.lines.map((l) => l.text)).toEqual(["before the drop", "missed while away"]);
    expect(audio().played).toHaveLength(2);
    expect(audio().clears).toBe(0);
  });

  it("starts a new session when the resume is refused and there is no live session to join back", async () => {
    const { session, sockets, clock, audio } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive({ type: "session", state: "started", session_id: "0123456789abcdef0123456789abcdef", conversation_id: "conv-test", resume_key: "k".repeat(32), resume_s: 30 });
    sockets[0]!.serverClose(1006);
    clock.advance(0);
    sockets[1]!.open();
    sockets[1]!.serverClose(4002, "wrong resume key");
    expect(audio().clears).toBe(1); // the old playback goes
    expect(session.getSnapshot().stateMessage).toBe("The session could not be resumed (wrong resume key); joining its live session again…");
    clock.advance(0);
    expect(sockets[2]!.url).toBe(`ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&join=live&role=speaker&device=Laptop&device_id=${DEVICE_ID}`);
    sockets[2]!.open();
    sockets[2]!.serverClose(4004, "this conversation has no live session");
    expect(session.getSnapshot()).toMatchObject({ state: "reconnecting", running: true, joined: null, error: null });
    clock.advance(0);
    expect(sockets[3]!.url).toBe("ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&device=Laptop");
    sockets[3]!.open();
    expect(session.getSnapshot()).toMatchObject({ state: "connected", running: true, joined: null, error: null, stateMessage: null });
  });

  it("joins its session back after a refused resume, and is a joined speaker then", async () => {
    const { session, sockets, clock, audio } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive({ type: "session", state: "started", session_id: "0123456789abcdef0123456789abcdef", conversation_id: "conv-test", resume_key: "k".repeat(32), resume_s: 30, device: "Laptop" });
    sockets[0]!.serverClose(1006);
    clock.advance(0);
    sockets[1]!.open();
    sockets[1]!.serverClose(4002, "this device left the session; join it again instead");
    clock.advance(0);
    expect(sockets[2]!.url).toBe(`ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&join=live&role=speaker&device=Laptop&device_id=${DEVICE_ID}`);
    sockets[2]!.open();
    sockets[2]!.receive({ type: "session", state: "joined", session_id: "0123456789abcdef0123456789abcdef", conversation_id: "conv-test", device: "Laptop", role: "speaker" });
    expect(session.getSnapshot()).toMatchObject({ state: "connected", running: true, joined: "speaker", device: "Laptop", error: null, stateMessage: null });
    audio().sink(frame(1000)); // its microphone still reaches the session
    expect(sockets[2]!.sent.filter((f) => f instanceof ArrayBuffer)).toHaveLength(1);
    session.stop(); // Leave: the session goes on for the others
    expect(sockets[2]!.json().map((m) => m.type)).toEqual(["stop"]);
    sockets[2]!.serverClose(1000, "left");
    expect(session.getSnapshot()).toMatchObject({ state: "closed", running: false, joined: null, error: null });
  });

  it("says what the connection is doing while it works on it, and nothing once it is done", async () => {
    const { session, sockets, clock } = await setup();
    expect(session.getSnapshot().stateMessage).toBeNull();
    sockets[0]!.open();
    sockets[0]!.serverClose(1006);
    expect(session.getSnapshot()).toMatchObject({ state: "reconnecting", error: null });
    expect(session.getSnapshot().stateMessage).toMatch(/^Connection lost; retrying in \d\.\d s\.$/); // jittered
    clock.advance(30_000);
    sockets[1]!.open();
    expect(session.getSnapshot()).toMatchObject({ state: "connected", stateMessage: null });
    sockets[1]!.serverClose(1008, "a valid token is required");
    // How it ended is the banner's to say, not the state line's.
    expect(session.getSnapshot()).toMatchObject({ state: "error", stateMessage: null });
    expect(session.getSnapshot().error).toMatch(/token/);
  });

  it("on Stop sends `stop`, releases the audio and ends in closed", async () => {
    const { session, sockets, audio } = await setup();
    sockets[0]!.open();
    session.stop();
    expect(session.getSnapshot().running).toBe(false);
    expect(sockets[0]!.json().map((m) => m.type)).toEqual(["stop"]);
    await Promise.resolve();
    expect(audio().stopped).toBe(true);
    sockets[0]!.serverClose(1000, "client_closed");
    expect(session.getSnapshot().state).toBe("closed");
    expect(stats.state).toBe("closed");
  });

  it("shows a token problem and stops on close 1008", async () => {
    const { session, sockets, audio } = await setup();
    sockets[0]!.open();
    sockets[0]!.serverClose(1008, "a valid token is required");
    const snap = session.getSnapshot();
    expect(snap.state).toBe("error");
    expect(snap.running).toBe(false);
    expect(snap.error).toMatch(/token required or invalid/i);
    await Promise.resolve();
    expect(audio().stopped).toBe(true);
  });
});

describe("VoiceSession with several devices", () => {
  const JOIN = "ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw";
  const joined = (role: string) => ({ type: "session", state: "joined", session_id: "s", conversation_id: "conv-test", device: "Laptop", role });

  it("joins as a speaker: the microphone opens, the URL says join=live, frames flow once joined", async () => {
    const { session, sockets, audio, microphone } = await setup(null, (s) => s.join("speaker"));
    expect(microphone).toEqual([true]);
    expect(sockets[0]!.url).toBe(`${JOIN}&join=live&role=speaker&device=Laptop&device_id=${DEVICE_ID}`);
    expect(session.getSnapshot()).toMatchObject({ running: true, joined: "speaker", state: "connecting", device: null });
    sockets[0]!.open();
    audio().sink(frame(1000)); // not joined yet: dropped
    sockets[0]!.receive(joined("speaker"));
    expect(session.getSnapshot()).toMatchObject({ state: "connected", joined: "speaker", device: "Laptop" });
    audio().sink(frame(1000));
    expect(sockets[0]!.sent.filter((f) => f instanceof ArrayBuffer)).toHaveLength(1);
  });

  it("joins as a listener without opening the microphone, and hears the assistant", async () => {
    const { session, sockets, audio, microphone } = await setup(null, (s) => s.join("listener"));
    expect(microphone).toEqual([false]);
    expect(sockets[0]!.url).toBe(`${JOIN}&join=live&role=listener&device=Laptop&device_id=${DEVICE_ID}`);
    sockets[0]!.open();
    sockets[0]!.receive(joined("listener"));
    sockets[0]!.receive(new ArrayBuffer(1920));
    expect(audio().played).toHaveLength(1);
    session.toggleMic(); // nothing to mute
    expect(session.getSnapshot().micMuted).toBe(false);
    expect(audio().micMuted).toBeNull();
  });

  it("follows the floor: who holds it, free again, and forgotten when the session ends", async () => {
    const { session, sockets } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive({ type: "session", state: "started", session_id: "s", conversation_id: "conv-test", device: "Laptop" });
    expect(session.getSnapshot()).toMatchObject({ device: "Laptop", floor: null });
    sockets[0]!.receive({ type: "floor", device: "Phone" });
    expect(session.getSnapshot().floor).toBe("Phone");
    sockets[0]!.receive({ type: "floor", device: null });
    expect(session.getSnapshot().floor).toBeNull();
    sockets[0]!.receive({ type: "floor", device: "Laptop" });
    expect(session.getSnapshot().floor).toBe("Laptop");
    sockets[0]!.serverClose(1008, "refused");
    expect(session.getSnapshot()).toMatchObject({ state: "error", floor: null, running: false });
  });

  it("names devices on user lines once a second device took part", async () => {
    const { session, sockets } = await setup();
    sockets[0]!.open();
    sockets[0]!.receive({ type: "session", state: "started", session_id: "s", conversation_id: "conv-test", device: "Laptop" });
    sockets[0]!.receive({ type: "transcription", role: "user", text: "alone", device: "Laptop" });
    expect(session.getSnapshot().view.devices).toEqual(["Laptop"]);
    sockets[0]!.receive({ type: "floor", device: "Phone" }); // a device joined and speaks
    sockets[0]!.receive({ type: "transcription", role: "user", text: "from the phone", device: "Phone" });
    const view = session.getSnapshot().view;
    expect(view.devices).toEqual(["Laptop", "Phone"]);
    expect(view.lines.map((l) => [l.text, l.device])).toEqual([
      ["alone", "Laptop"],
      ["from the phone", "Phone"],
    ]);
  });

  it("says why a join was refused, and stops", async () => {
    const { session, sockets, audio } = await setup(null, (s) => s.join("speaker"));
    sockets[0]!.open();
    sockets[0]!.serverClose(4004, "this conversation has no live session on this gateway");
    expect(session.getSnapshot()).toMatchObject({ state: "error", running: false, joined: null });
    expect(session.getSnapshot().error).toBe("Cannot join the live session: this conversation has no live session on this gateway.");
    await Promise.resolve();
    expect(audio().stopped).toBe(true);
  });

  it("Leave sends `stop` and ends in closed", async () => {
    const { session, sockets } = await setup(null, (s) => s.join("speaker"));
    sockets[0]!.open();
    sockets[0]!.receive(joined("speaker"));
    session.stop();
    expect(sockets[0]!.json().map((m) => m.type)).toEqual(["stop"]);
    sockets[0]!.serverClose(1000, "left");
    expect(session.getSnapshot()).toMatchObject({ state: "closed", running: false, joined: null, error: null });
  });
});

describe("VoiceSession recording", () => {
  afterEach(() => setRecordChoice("default"));
  const NEW = "ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&device=Laptop";

  it("asks a session it starts to be recorded, or not, as Settings says, read at each start", async () => {
    setRecordChoice("always");
    const { session, sockets } = await setup();
    expect(sockets[0]!.url).toBe(`${NEW}&record=1`);
    session.stop();
    sockets[0]!.serverClose(1000, "client stopped");
    setRecordChoice("never");
    await session.start();
    expect(sockets[1]!.url).toBe(`${NEW}&record=0`);
    session.stop();
    sockets[1]!.serverClose(1000, "client stopped");
    setRecordChoice("default");
    await session.start();
    expect(sockets[2]!.url).toBe(NEW);
  });

  it("says nothing of it when joining: the session's own device decided", async () => {
    setRecordChoice("always");
    const { sockets } = await setup(null, (s) => s.join("speaker"));
    expect(sockets[0]!.url).toBe(`ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&join=live&role=speaker&device=Laptop&device_id=${DEVICE_ID}`);
  });
});

describe("VoiceSession with an access token", () => {
  afterEach(() => {
    setToken("");
    vi.unstubAllGlobals();
  });

  it("asks for a ticket with the token in a header before each socket; the token is in no URL", async () => {
    setToken("s3cret");
    const asked: { url: string; init: RequestInit }[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit = {}) => {
      asked.push({ url, init });
      return new Response(JSON.stringify({ ticket: `t${asked.length}`, expires_in_s: 30 }), { status: 200 });
    });
    const { session, sockets, clock } = await setup();
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]!.url).toBe("ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&ticket=t1&device=Laptop");
    expect(asked).toHaveLength(1);
    expect(asked[0]!.url).toBe("/api/realtime/pipecat/tickets");
    expect(asked[0]!.init.method).toBe("POST");
    expect(asked[0]!.init.headers).toMatchObject({ Authorization: "Bearer s3cret", "Content-Type": "application/json" });
    expect(JSON.parse(asked[0]!.init.body as string)).toEqual({ conversation_id: "conv-test", purpose: "voice" });

    sockets[0]!.open();
    sockets[0]!.serverClose(1006); // dropped: the reconnect gets a ticket of its own
    clock.advance(1000);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[1]!.url).toBe("ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&ticket=t2&device=Laptop");
    expect(session.getSnapshot().state).toBe("reconnecting");
    for (const socket of sockets) expect(socket.url).not.toContain("s3cret");
  });

  it("resumes with a ticket of its own, the session id beside it", async () => {
    setToken("s3cret");
    let issued = 0;
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ ticket: `t${++issued}`, expires_in_s: 30 }), { status: 200 }));
    const { sockets, clock } = await setup();
    await vi.waitFor(() => expect(sockets).toHaveLength(1));
    sockets[0]!.open();
    const id = "0123456789abcdef0123456789abcdef";
    sockets[0]!.receive({ type: "session", state: "started", session_id: id, conversation_id: "conv-test", resume_key: "k".repeat(32), resume_s: 30 });
    sockets[0]!.serverClose(1006);
    clock.advance(0);
    await vi.waitFor(() => expect(sockets).toHaveLength(2));
    expect(sockets[1]!.url).toBe(`ws://localhost:3000/api/realtime/pipecat/ws/conv-test?format=raw&ticket=t2&resume=${id}`);
    expect(sockets[1]!.url).not.toContain("k".repeat(32)); // the key goes in the first frame only
  });

  it("says the token is wrong when the gateway refuses it a ticket, and opens nothing", async () => {
    setToken("wrong");
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ detail: "a valid token is required" }), { status: 401 }));
    const { session, sockets } = await setup();
    await vi.waitFor(() => expect(session.getSnapshot().state).toBe("error"));
    expect(session.getSnapshot().error).toMatch(/token required or invalid/i);
    expect(sockets).toHaveLength(0);
  });
});
