/**
 * The voice WebSocket with its lifecycle: connect, ping, reconnect with backoff (same
 * conversation), and a clean stop (`stop` message, then close). Timers, the clock and the
 * socket constructor are injected so the whole machine runs under test without a network.
 *
 * The URL is made anew for every attempt, and may take a round trip to make: with a token set it
 * carries a fresh ticket (single use, short-lived), so a reconnect cannot reuse the last one.
 */
import { ApiError } from "../api/client";
import { parseServerMessage, type ClientMessage, type ClientStatsMessage, type ServerMessage } from "../protocol/messages";
import { ReconnectPolicy, type ConnectionState } from "./reconnect";

export const PING_INTERVAL_MS = 15_000;
// After `stop`, how long to wait for the gateway's final `session` message before closing anyway.
export const STOP_GRACE_MS = 1_500;

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

/** The socket's URL for one attempt: at once, or after a round trip (a ticket to ask for). */
export type SocketUrl = () => string | Promise<string>;

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

  constructor(
    private readonly url: SocketUrl,
    private readonly events: ConnectionEvents,
    private readonly deps: ConnectionDeps = browserDeps,
    private readonly policy: ReconnectPolicy = new ReconnectPolicy(),
  ) {}

  get state(): ConnectionState {
    return this.stateValue;
  }

  get isOpen(): boolean {
    return this.stateValue === "connected" && this.socket?.readyState === OPEN;
  }

  start(): void {
    if (this.stateValue === "connecting" || this.stateValue === "connected" || this.stateValue === "reconnecting") {
      return;
    }
    this.userStopped = false;
    this.policy.reset();
    this.setState("connecting", null);
    this.open();
  }

  /** The person pressed Stop: no reconnect, whatever the close code. */
  stop(): void {
    this.userStopped = true;
    if (this.retryTimer !== null) {
      this.cancelRetry();
      return;
    }
    // A URL still on its way (a ticket being asked for) is dropped when it arrives.
    const socket = this.socket;
    if (socket && socket.readyState === OPEN) {
      this.sendJson({ type: "stop" });
      this.stopTimer = this.deps.setTimeout(() => socket.close(1000, "client stopped"), STOP_GRACE_MS);
    } else if (socket) {
      socket.close(1000, "client stopped");
    } else {
      this.setState("closed", null);
    }
  }

  /** Sends one audio frame; false when the socket is not open (the frame is dropped). */
  sendAudio(bytes: ArrayBuffer): boolean {
    if (!this.isOpen || this.userStopped) return false;
    this.socket!.send(bytes);
    return true;
  }

  /** What the listener heard of a turn (dropped when the socket is not open). */
  sendStats(message: ClientStatsMessage): void {
    this.sendJson(message);
  }

  private sendJson(message: ClientMessage): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  private setState(state: ConnectionState, message: string | null): void {
    this.stateValue = state;
    this.events.onState(state, message);
  }

  private open(): void {
    this.sessionStopReason = null;
    const attempt = ++this.attempt;
    let target: string | Promise<string>;
    try {
      target = this.url();
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
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.policy.opened(this.deps.now());
      this.setState("connected", null);
      this.pingTimer = this.deps.setInterval(() => {
        this.sendJson({ type: "ping", id: `p${++this.pings}` });
      }, PING_INTERVAL_MS);
    };
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return;
      if (typeof event.data === "string") {
        const message = parseServerMessage(event.data);
        if (message === null) return;
        if (message.type === "session" && message.state === "stopped") {
          this.sessionStopReason = message.reason ?? "";
          if (this.userStopped) socket.close(1000, "client stopped");
        }
        this.events.onMessage(message);
      } else if (event.data instanceof ArrayBuffer) {
        this.events.onAudio(event.data);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.onClosed(event.code, event.reason);
    };
    socket.onerror = () => undefined; // the close event that follows carries what we act on
  }

  private onClosed(code: number, reason: string): void {
    this.socket = null;
    if (this.pingTimer !== null) this.deps.clearInterval(this.pingTimer);
    if (this.stopTimer !== null) this.deps.clearTimeout(this.stopTimer);
    this.pingTimer = this.stopTimer = null;
    const decision = this.policy.closed(this.deps.now(), {
      code,
      reason,
      userStopped: this.userStopped,
      sessionStopReason: this.sessionStopReason,
    });
    if (decision.kind === "reconnect") {
      this.setState("reconnecting", `Connection lost; retrying in ${(decision.delayMs / 1000).toFixed(1)} s.`);
      this.retryTimer = this.deps.setTimeout(() => {
        this.retryTimer = null;
        this.open();
      }, decision.delayMs);
    } else if (decision.kind === "closed") {
      this.setState("closed", decision.message);
    } else {
      this.setState("error", decision.message);
    }
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) {
      this.deps.clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.setState("closed", null);
    }
  }
}
