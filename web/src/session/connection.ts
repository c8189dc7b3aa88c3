/**
 * The voice WebSocket with its lifecycle: connect, ping, reconnect with backoff (same
 * conversation), resume, and a clean stop (`stop` message, then close). Timers, the clock and the
 * socket constructor are injected so the whole machine runs under test without a network.
 *
 * The URL is made anew for every attempt, and may take a round trip to make: with a token set it
 * carries a fresh ticket (single use, short-lived), so a reconnect cannot reuse the last one.
 *
 * **Resume** (docs/protocol.md). Once the gateway's `started` message gave a resume key, a
 * connection lost without a normal close does not end the session: the first attempt goes at
 * once, with `?resume=<session_id>`, and its first frame asks for the session back, saying how
 * many frames came from it so far. Meanwhile audio and messages are kept (resumeLog.ts); after
 * the gateway's `resumed` answer, everything it did not get goes again, in order, before anything
 * new. A connection taken over by a resume elsewhere (4003) is not reconnected.
 *
 * **After a refused resume** (4002). The session may have gone on without this device: when other
 * devices had joined it, the gateway lets them carry it on once this device's window ran out.
 * So the device tries once to join the conversation's live session again, as a speaker under the
 * name the session knew it by, rather than start a second session beside it; from then on it is a
 * joined device like any other (below). Only when that join is refused (4004: no live session) does
 * a new session start, in the same conversation. When the window passes on this side, no resume
 * is asked for: the device joins back the same way.
 *
 * **Join** (docs/protocol.md, Several devices). `join(role)` joins the conversation's live session
 * from this device (`?join=live&role=`) instead of starting one: live once the gateway's `joined`
 * answer came. A joined device has no resume (no key, nothing kept): after a drop it joins again,
 * with the backoff. A join refused (4004: no live session, the name taken, …) is an error with the
 * gateway's reason; it is not retried. A listener sends no audio, and nobody joined sends
 * `client_stats` (the gateway reads only `stop` from a joined device).
 */
import { ApiError } from "../api/client";
import {
  parseServerMessage,
  type ClientMessage,
  type ClientStatsMessage,
  type DeviceRole,
  type ServerMessage,
  type SessionMessage,
} from "../protocol/messages";
import { CloseCode } from "../protocol/vocabulary";
import { ReconnectPolicy, type ConnectionState } from "./reconnect";
import { ResumeLog, type Frame } from "./resumeLog";

export const PING_INTERVAL_MS = 15_000;
// After `stop`, how long to wait for the gateway's final `session` message before closing anyway.
export const STOP_GRACE_MS = 1_500;
// What the state says while a dropped session is being carried on.
export const RESUMING_MESSAGE = "Connection lost; resuming…";

export interface SocketLike {
  binaryType: BinaryType;
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export interface ConnectionDeps {
  createSocket(url: string): SocketLike;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  now(): number;
}

export const browserDeps: ConnectionDeps = {
  createSocket: (url) => new WebSocket(url),
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (handle) => window.clearTimeout(handle as number),
  setInterval: (fn, ms) => window.setInterval(fn, ms),
  clearInterval: (handle) => window.clearInterval(handle as number),
  now: () => performance.now(),
};

export interface ConnectionEvents {
  onState(state: ConnectionState, message: string | null): void;
  onMessage(message: ServerMessage): void;
  onAudio(bytes: ArrayBuffer): void;
}

const OPEN = 1;
// No close frame: what a network failure looks like, and what a URL that could not be made
// (the ticket request failed on the way) is treated as, so the same backoff applies.
const ABNORMAL_CLOSURE = 1006;

/** The socket's URL for one attempt: at once, or after a round trip (a ticket to ask for).
 * `resume`: the id of the session this attempt carries on (`?resume=`), or null for a new one;
 * `join`: the role this attempt joins the conversation's live session in (`?join=live`), or null;
 * `device`: the name this attempt must carry (a join back into the session this device started:
 * the name the session knew it by), or null for the name in Settings. */
export type SocketUrl = (
  resume: string | null,
  join: DeviceRole | null,
  device: string | null,
) => string | Promise<string>;

/** What a session's `started` message gave to resume it with: in memory only, never logged. */
interface Resumable {
  sessionId: string;
  key: string;
  windowMs: number;
}

// Where the current socket is: a new session's connection is live once open; a resume's, once
// the gateway answered the request. Frames go out only while live.
type Phase = "down" | "opening" | "awaiting" | "live";

export class VoiceConnection {
  private socket: SocketLike | null = null;
  private stateValue: ConnectionState = "idle";
  private userStopped = false;
  private sessionStopReason: string | null = null;
  private pingTimer: unknown = null;
  private retryTimer: unknown = null;
  private stopTimer: unknown = null;
  private pings = 0;
  private attempt = 0; // a URL that arrives after a newer attempt started (or a Stop) is dropped
  private phase: Phase = "down";
  private readonly log = new ResumeLog();
  private resumable: Resumable | null = null; // the session to carry on after a drop
  private resumeAttempt = false; // the current attempt carries `resumable` on
  private droppedAt: number | null = null; // when the resumable session's connection was lost
  private joinRole: DeviceRole | null = null; // joining the live session in this role, not starting one
  // The name the session this device started gave it (`started`), to join that session back under.
  private ownName: string | null = null;
  // Joined back into the session this device started (after its resume was refused): the name
  // every join carries, rejoins after a drop included; null: the name in Settings.
  private joinName: string | null = null;
  // That join is on its way: until the gateway says `joined`, a refusal (4004) starts a new
  // session instead of ending in an error.
  private rejoining = false;

  constructor(
    private readonly url: SocketUrl,
    private readonly events: ConnectionEvents,
    private readonly deps: ConnectionDeps = browserDeps,
    private readonly policy: ReconnectPolicy = new ReconnectPolicy(),
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Frames go out now (a resumed connection once the gateway answered). */
  get isOpen(): boolean {
    return this.phase === "live" && this.socket?.readyState === OPEN;
  }

  /** The role this connection joined the live session in; null for the session's own device. */
  get joined(): DeviceRole | null {
    return this.joinRole;
  }

  /** A dropped session is being carried on (its frames are kept, the player may go on). */
  get resuming(): boolean {
    return this.resumable !== null && this.droppedAt !== null;
  }

  /** Frames received from this session, and frames sent or kept for it (for tests and stats). */
  get frames(): { received: number; sent: number; kept: number; dropped: number } {
    const log = this.log;
    return { received: log.received, sent: log.sent, kept: log.kept, dropped: log.dropped };
  }

  /** Starts a new session in the conversation. */
  start(): void {
    this.begin(null);
  }

  /** Joins the conversation's live session from this device, as a speaker or a listener. */
  join(role: DeviceRole): void {
    this.begin(role);
  }

  private begin(join: DeviceRole | null): void {
    if (this.stateValue === "connecting" || this.stateValue === "connected" || this.stateValue === "reconnecting") {
      return;
    }
    this.joinRole = join;
    this.ownName = this.joinName = null;
    this.rejoining = false;
    this.userStopped = false;
    this.policy.reset();
    this.forgetSession(); // Start is a new session
    this.setState("connecting", null);
    this.open();
  }

  /** The person pressed Stop: no reconnect, whatever the close code. */
  stop(): void {
    this.userStopped = true;
    // A session left waiting for its resume (no connection now) expires on its own.
    this.forgetSession();
    if (this.retryTimer !== null) {
      this.cancelRetry();
      return;
    }
    // A URL still on its way (a ticket being asked for) is dropped when it arrives.
    const socket = this.socket;
    if (socket && socket.readyState === OPEN) {
      // Straight out, even on a resume not answered yet: it comes after the request.
      socket.send(JSON.stringify({ type: "stop" } satisfies ClientMessage));
      this.stopTimer = this.deps.setTimeout(() => socket.close(1000, "client stopped"), STOP_GRACE_MS);
    } else if (socket) {
      socket.close(1000, "client stopped");
    } else {
      this.setState("closed", null);
    }
  }

  /** Sends one audio frame, or keeps it while a dropped session is being resumed; false when
   * it is dropped (no connection, and no session to carry it to). */
  sendAudio(bytes: ArrayBuffer): boolean {
    if (this.joinRole === "listener") return false; // a listener does not speak
    return this.send(bytes);
  }

  /** What the listener heard of a turn (kept while resuming, else dropped when not open). Not
   * sent by a device that joined: the gateway keeps the session's own device's figures only. */
  sendStats(message: ClientStatsMessage): void {
    if (this.joinRole !== null) return;
    this.sendJson(message);
  }

  private sendJson(message: ClientMessage): void {
    this.send(JSON.stringify(message));
  }

  /** Every frame of the session goes through the log: numbered, kept, carried in order. */
  private send(frame: Frame): boolean {
    if (this.userStopped) return false;
    if (this.isOpen) {
      this.log.keep(frame);
      this.flush();
      return true;
    }
    if (this.resumable !== null) {
      this.log.keep(frame); // sent on the resume, after what the gateway did not get
      return true;
    }
    return false;
  }

  /** Sends the kept frames no connection carried yet, in order. */
  private flush(): void {
    const socket = this.socket;
    if (socket === null || !this.isOpen) return;
    for (let frame = this.log.next(); frame !== null; frame = this.log.next()) socket.send(frame);
  }

  private setState(state: ConnectionState, message: string | null): void {
    this.stateValue = state;
    this.events.onState(state, message);
  }

  private open(): void {
    this.sessionStopReason = null;
    const attempt = ++this.attempt;
    if (this.resumable !== null && this.droppedAt !== null && this.deps.now() - this.droppedAt >= this.resumable.windowMs) {
      // The session stopped waiting for this device (what was kept goes with it); other devices
      // may have carried it on: join it back, as after a refused resume.
      this.joinBack();
      this.setState("reconnecting", "The session could not be resumed in time; joining its live session again…");
    }
    const resume = this.resumable !== null && this.droppedAt !== null ? this.resumable.sessionId : null;
    this.resumeAttempt = resume !== null;
    let target: string | Promise<string>;
    try {
      target = this.url(resume, resume === null ? this.joinRole : null, resume === null ? this.joinName : null);
    } catch (error) {
      this.setState("error", `Cannot open the voice connection: ${String(error)}`);
      return;
    }
    if (typeof target === "string") {
      this.connect(target);
      return;
    }
    const current = () => attempt === this.attempt && !this.userStopped && this.socket === null;
    target.then(
      (url) => {
        if (current()) this.connect(url);
      },
      (error: unknown) => {
        if (current()) this.urlFailed(error);
      },
    );
  }

  /** The URL could not be made: a refused token ends it (no retry helps), the rest is retried. */
  private urlFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ApiError && error.unauthorized) {
      this.setState("error", message);
      return;
    }
    this.onClosed(ABNORMAL_CLOSURE, message);
  }

  private connect(url: string): void {
    let socket: SocketLike;
    try {
      socket = this.deps.createSocket(url);
    } catch (error) {
      this.setState("error", `Cannot open the voice connection: ${String(error)}`);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.phase = "opening";
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.policy.opened(this.deps.now());
      const resumable = this.resumable;
      if (this.resumeAttempt && resumable !== null) {
        // The request is the first frame, and not one of the session's: it is not kept.
        this.phase = "awaiting";
        const request: ClientMessage = { type: "resume", resume_key: resumable.key, received: this.log.received };
        socket.send(JSON.stringify(request));
        return;
      }
      this.log.reset(); // a new session: its frames are counted from its first connection
      if (this.joinRole !== null) {
        this.phase = "awaiting"; // live once the gateway says the device joined
        return;
      }
      this.goLive();
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      const data: unknown = event.data;
      if (this.phase === "awaiting" && typeof data === "string") {
        const answer = parseServerMessage(data);
        if (answer?.type === "session" && answer.state === "resumed" && this.resumeAttempt) {
          this.resumed(answer);
          return;
        }
        if (answer?.type === "session" && answer.state === "joined" && this.joinRole !== null) {
          this.rejoining = false; // back in: a joined device from now on
          this.goLive();
          this.events.onMessage(answer);
          return;
        }
      }
      this.log.countReceived(); // every frame of the session, understood or not
      if (typeof data === "string") {
        const message = parseServerMessage(data);
        if (message === null) return;
        if (message.type === "session") this.sessionMessage(socket, message);
        this.events.onMessage(message);
      } else if (data instanceof ArrayBuffer) {
        this.events.onAudio(data);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.onClosed(event.code, event.reason);
    };
    socket.onerror = () => undefined; // the close event that follows carries what we act on
  }

  /** Live: frames flow, pings go, and the state says connected. */
  private goLive(): void {
    this.phase = "live";
    this.droppedAt = null;
    this.setState("connected", null);
    this.pingTimer = this.deps.setInterval(() => {
      this.sendJson({ type: "ping", id: `p${++this.pings}` });
    }, PING_INTERVAL_MS);
    this.flush();
  }

  /** The gateway carries the session on here: what it did not get goes again, then live. */
  private resumed(answer: SessionMessage): void {
    this.log.rewind(answer.received ?? 0);
    this.goLive();
    this.events.onMessage(answer); // shows nothing: the session goes on as it was
  }

  private sessionMessage(socket: SocketLike, message: SessionMessage): void {
    if (message.state === "started" && this.joinRole === null) {
      this.ownName = message.device;
      const windowS = message.resume_s ?? 0;
      this.resumable =
        message.resume_key !== null && message.session_id !== "" && windowS > 0
          ? { sessionId: message.session_id, key: message.resume_key, windowMs: windowS * 1000 }
          : null;
      if (windowS > 0) this.log.setWindow(windowS);
    } else if (message.state === "stopped") {
      this.sessionStopReason = message.reason ?? "";
      this.resumable = null; // over: nothing to resume
      if (this.userStopped) socket.close(1000, "client stopped");
    }
  }

  /** No session to carry on: the next connection starts a new one, with fresh counts. */
  private forgetSession(): void {
    this.resumable = null;
    this.droppedAt = null;
    this.log.reset();
  }

  private onClosed(code: number, reason: string): void {
    const wasResume = this.resumeAttempt;
    this.socket = null;
    this.phase = "down";
    this.resumeAttempt = false;
    if (this.pingTimer !== null) this.deps.clearInterval(this.pingTimer);
    if (this.stopTimer !== null) this.deps.clearTimeout(this.stopTimer);
    this.pingTimer = this.stopTimer = null;
    if (!this.userStopped && code === CloseCode.REPLACED) {
      // Another connection carries this session on now: this one must not take it back.
      this.forgetSession();
      this.setState("closed", "This session went on over another connection.");
      return;
    }
    if (!this.userStopped && wasResume && code === CloseCode.RESUME_REFUSED) {
      // The session ended, or went on without this device (other devices kept it).
      this.joinBack();
      this.retry(0, `The session could not be resumed${reason ? ` (${reason})` : ""}; joining its live session again…`);
      return;
    }
    if (!this.userStopped && this.rejoining && code === CloseCode.JOIN_REFUSED) {
      // Nothing live to join back into: a new session, in the same conversation.
      this.joinRole = this.joinName = null;
      this.rejoining = false;
      this.retry(0, `The live session could not be joined again${reason ? ` (${reason})` : ""}; starting a new one…`);
      return;
    }
    const decision = this.policy.closed(this.deps.now(), {
      code,
      reason,
      userStopped: this.userStopped,
      sessionStopReason: this.sessionStopReason,
    });
    if (decision.kind === "reconnect") {
      if (this.resumable === null) {
        this.log.reset();
        const again = this.joinRole !== null ? "joining again" : "retrying";
        this.retry(decision.delayMs, `Connection lost; ${again} in ${(decision.delayMs / 1000).toFixed(1)} s.`);
      } else if (this.droppedAt === null) {
        this.droppedAt = this.deps.now();
        this.retry(0, RESUMING_MESSAGE); // the first attempt goes at once
      } else {
        this.retry(decision.delayMs, RESUMING_MESSAGE);
      }
      return;
    }
    this.forgetSession();
    if (decision.kind === "closed") {
      this.setState("closed", decision.message);
    } else {
      this.setState("error", decision.message);
    }
  }

  /** No session of this device's own to carry on: join the conversation's live session back
   * once, as a speaker under the name the session knew it by; a refusal (4004: nothing live)
   * starts a new session instead. */
  private joinBack(): void {
    this.forgetSession();
    this.joinRole = "speaker";
    this.joinName = this.ownName;
    this.rejoining = true;
  }

  private retry(delayMs: number, message: string): void {
    this.setState("reconnecting", message);
    this.retryTimer = this.deps.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delayMs);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) {
      this.deps.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.setState("closed", null);
    }
  }
}
