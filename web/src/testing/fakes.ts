/** Test doubles for the connection's injected dependencies: a socket and a manual clock. */
import type { ConnectionDeps, SocketLike } from "../session/connection";

export class FakeSocket implements SocketLike {
  binaryType: BinaryType = "blob";
  readyState = 0;
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  sent: (string | ArrayBuffer)[] = [];
  closedWith: { code?: number; reason?: string } | null = null;

  constructor(readonly url: string) {}

  send(data: string | ArrayBuffer): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  // What the server side does:
  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  receive(data: string | ArrayBuffer | object): void {
    const payload = typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data);
    this.onmessage?.({ data: payload } as MessageEvent);
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }

  json(): { type: string; id?: string }[] {
    return this.sent.filter((s): s is string => typeof s === "string").map((s) => JSON.parse(s));
  }
}

interface Timer {
  at: number;
  fn: () => void;
  every: number | null;
}

export class FakeClock {
  time = 0;
  private timers = new Map<number, Timer>();
  private next = 1;

  readonly deps = (sockets: FakeSocket[]): ConnectionDeps => ({
    createSocket: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    setTimeout: (fn, ms) => this.add(fn, ms, null),
    clearTimeout: (h) => this.timers.delete(h as number),
    setInterval: (fn, ms) => this.add(fn, ms, ms),
    clearInterval: (h) => this.timers.delete(h as number),
    now: () => this.time,
  });

  private add(fn: () => void, ms: number, every: number | null): number {
    const id = this.next++;
    this.timers.set(id, { at: this.time + ms, fn, every });
    return id;
  }

  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let dueId = -1;
      let due: Timer | null = null;
      for (const [id, t] of this.timers) if (t.at <= end && (due === null || t.at < due.at)) [dueId, due] = [id, t];
      if (due === null) break;
      this.time = due.at;
      if (due.every === null) this.timers.delete(dueId);
      else due.at += due.every;
      due.fn();
    }
    this.time = end;
  }
}
