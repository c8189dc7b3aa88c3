/**
 * The client's half of a resumable session's bookkeeping (docs/protocol.md, Resume): how many
 * frames it received, and the frames it sent, kept so that a resume can send again the ones
 * the session did not get. Both count frames, text and binary alike, over every connection of
 * one session.
 *
 * Frames are numbered from 0 in the order they were handed to `keep`. The connection carries
 * them in that order (`next`); on a resume the gateway says how many reached the session
 * (`rewind`), and the connection carries everything from there on again.
 *
 * The kept frames are bounded by their audio: `resume_s` of it (24 kHz PCM16: 48,000 bytes a
 * second), plus at most `MAX_MESSAGES` JSON messages. Over either, the oldest frames go (and are
 * counted in `dropped` when no connection had carried them).
 */

export type Frame = string | ArrayBuffer;

/** The wire's audio: 24 kHz mono PCM16. */
export const AUDIO_BYTES_PER_S = 48_000;
/** What a session waits for its client when it has not said (before `started`). */
export const DEFAULT_RESUME_S = 30;
/** JSON messages kept beside the audio (pings every 15 s, stats once a turn: a long while). */
export const MAX_MESSAGES = 256;

export class ResumeLog {
  private frames: Frame[] = [];
  private base = 0; // the number of frames[0]: the frames before it were let go
  private carried = 0; // the number of the next frame a connection carries
  private audioBytes = 0;
  private messages = 0;
  private receivedCount = 0;
  private droppedCount = 0;
  private capBytes: number;

  constructor(resumeS: number = DEFAULT_RESUME_S) {
    this.capBytes = capFor(resumeS);
  }

  /** Frames received from the session so far (what a resume request says). */
  get received(): number {
    return this.receivedCount;
  }

  /** Frames sent or kept to send, all told: the number the next kept frame gets. */
  get sent(): number {
    return this.base + this.frames.length;
  }

  /** Frames kept now (the oldest of them numbered `sent - kept`). */
  get kept(): number {
    return this.frames.length;
  }

  /** Kept frames no connection has carried yet. */
  get pending(): number {
    return this.sent - Math.max(this.carried, this.base);
  }

  /** Frames that never reached the session: let go by the bound before a connection carried
   * them, or carried by a connection that was lost, and let go before a resume asked for them. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** The session's resume window (its `started` message): the audio the log holds. */
  setWindow(resumeS: number): void {
    this.capBytes = capFor(resumeS);
    this.trim();
  }

  /** A new session: nothing received, nothing sent. The window stays until the next `started`. */
  reset(resumeS: number = DEFAULT_RESUME_S): void {
    this.frames = [];
    this.base = this.carried = this.audioBytes = this.messages = 0;
    this.receivedCount = this.droppedCount = 0;
    this.capBytes = capFor(resumeS);
  }

  /** One frame came from the session (the `resumed` answer is not counted). */
  countReceived(): void {
    this.receivedCount++;
  }

  /** One frame to send: kept, and numbered. A connection carries it with `next`. */
  keep(frame: Frame): void {
    this.frames.push(frame);
    if (typeof frame === "string") this.messages++;
    else this.audioBytes += frame.byteLength;
    this.trim();
  }

  /** The next frame for the connection to send (it counts as carried), or null. */
  next(): Frame | null {
    if (this.carried < this.base) this.carried = this.base;
    if (this.carried >= this.sent) return null;
    return this.frames[this.carried++ - this.base]!;
  }

  /**
   * A resume answer: `received` of our frames reached the session. The frames from there on
   * are carried again (returns how many). When some of them were already let go, the rest is
   * numbered on from `received`, as the session will count them.
   */
  rewind(received: number): number {
    const reached = Math.min(Math.max(0, Math.floor(received)), this.sent);
    if (reached < this.base) {
      // Carried but lost in flight, and let go since: the frames that went unconfirmed and
      // uncarried were counted when they were let go.
      this.droppedCount += Math.max(0, Math.min(this.carried, this.base) - reached);
      this.base = reached;
    }
    this.carried = reached;
    return this.pending;
  }

  private trim(): void {
    while ((this.audioBytes > this.capBytes || this.messages > MAX_MESSAGES) && this.frames.length > 1) {
      const frame = this.frames.shift()!;
      if (typeof frame === "string") this.messages--;
      else this.audioBytes -= frame.byteLength;
      if (this.base >= this.carried) this.droppedCount++; // no connection ever carried it
      this.base++;
    }
  }
}

function capFor(resumeS: number): number {
  const seconds = Number.isFinite(resumeS) && resumeS > 0 ? resumeS : DEFAULT_RESUME_S;
  return Math.ceil(seconds * AUDIO_BYTES_PER_S);
}
