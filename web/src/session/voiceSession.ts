/**
 * One conversation page's session: the audio engine, the voice connection and the folded
 * conversation view, exposed as a small store for React (`subscribe`/`getSnapshot`).
 *
 * Started here (`start`), or joined from this device while another runs it (`join`: as a speaker,
 * or as a listener whose microphone is never opened). Either way the device's name (Settings) goes
 * with each attempt, and `floor` messages say who is speaking when several devices share it. A
 * session started here says whether to record it when Settings does (recordChoice.ts); a device
 * whose resume was refused may join its session back (connection.ts), and is a joined speaker then.
 */
import { loadConversation } from "../api/client";
import { ticketIfNeeded } from "../api/tickets";
import type { StoredEvent } from "../api/types";
import { WIRE_SAMPLE_RATE, int16ToLittleEndianBytes, rmsInt16 } from "../audio/pcm";
import type { ClientStatsMessage, DeviceRole, ServerMessage } from "../protocol/messages";
import { voiceSocketUrl } from "../protocol/ids";
import { TicketPurpose } from "../protocol/vocabulary";
import { VoiceConnection, browserDeps, type ConnectionDeps } from "./connection";
import { applyMessage, emptyConversation, viewFromEvents, type ConversationView } from "./conversation";
import { stats } from "./debugStats";
import { getDeviceId } from "./deviceId";
import { getDeviceName } from "./deviceName";
import { getRecordChoice, recordFlag } from "./recordChoice";
import { EarClock, type HeardTurn } from "./earClock";
import type { ConnectionState } from "./reconnect";

export interface AudioPort {
  setMicMuted(muted: boolean): void;
  setSpeakerMuted(muted: boolean): void;
  play(bytes: ArrayBuffer): void;
  clearPlayback(): void;
  assistantStopped(): void; // the gateway said the assistant stopped speaking
  stop(): Promise<void>;
}

export type AudioFactory = (
  sink: (frame: Int16Array) => void,
  options: {
    micMuted: boolean;
    speakerMuted: boolean;
    onHeard?: (turn: HeardTurn) => void;
    microphone: boolean; // false: never ask for the microphone (a listener)
  },
) => Promise<AudioPort>;

export type HistoryState = "loading" | "loaded" | "new" | "failed";

export interface SessionSnapshot {
  state: ConnectionState;
  // What the connection is doing, in words, while it works on it ("Connection lost; resuming…");
  // null when it says nothing. How it ended (closed, error) is `error`'s to say, not this.
  stateMessage: string | null;
  running: boolean; // a session was started (or joined) and not stopped or ended
  joined: DeviceRole | null; // while running: the role this device joined another's session in
  device: string | null; // this device's name in the session, as the gateway said it
  floor: string | null; // the device whose microphone the assistant hears now, when several share it
  micMuted: boolean;
  speakerMuted: boolean;
  latencyMs: number | null; // the `voice` latency of the last turn
  heard: ClientStatsMessage | null; // what was heard of the last assistant turn, at the speakers
  assistantSpeaking: boolean;
  view: ConversationView;
  history: HistoryState;
  error: string | null;
}

export class VoiceSession {
  private snapshot: SessionSnapshot = {
    state: "idle",
    stateMessage: null,
    running: false,
    joined: null,
    device: null,
    floor: null,
    micMuted: false,
    speakerMuted: false,
    latencyMs: null,
    heard: null,
    assistantSpeaking: false,
    view: emptyConversation,
    history: "loading",
    error: null,
  };
  private readonly listeners = new Set<() => void>();
  private readonly connection: VoiceConnection;
  private audio: AudioPort | null = null;
  private readonly ear = new EarClock();
  private starting = false;
  // The gateway's `voice` latency for the turn about to play: it arrives just before the turn's
  // first audio, and belongs to that turn only (a turn the gateway did not time gets none).
  private voiceMsForTurn: number | null = null;
  private live: ServerMessage[] = [];

  constructor(
    readonly conversationId: string,
    // Called synchronously from the Start click: browsers only let audio start inside a gesture.
    private readonly audioFactory: AudioFactory,
    connectionDeps: ConnectionDeps = browserDeps,
    private readonly loadHistory: (id: string) => Promise<{ events: StoredEvent[] } | null> = loadConversation,
    // Read for every attempt: a name changed in Settings applies from the next connection.
    private readonly deviceName: () => string = getDeviceName,
    // Read for every new session: record it (true), not (false), or as the gateway's default.
    private readonly record: () => boolean | null = () => recordFlag(getRecordChoice()),
    // This browser's own id, sent with joins (deviceId.ts).
    private readonly deviceId: () => string = getDeviceId,
  ) {
    // A fresh ticket for every attempt (reconnects, resumes and joins too), asked for right before
    // the socket opens.
    const url = (ticket: string | null, resume: string | null, join: DeviceRole | null, device: string | null) =>
      voiceSocketUrl(conversationId, ticket, window.location, resume, {
        device: device ?? this.deviceName(),
        join,
        record: this.record(),
        deviceId: this.deviceId(),
      });
    this.connection = new VoiceConnection(
      (resume, join, device) =>
        ticketIfNeeded(conversationId, TicketPurpose.VOICE)?.then((t) => url(t, resume, join, device)) ??
        url(null, resume, join, device),
      {
        onState: (state, message) => this.onState(state, message),
        onMessage: (message) => this.onMessage(message),
        onAudio: (bytes) => this.onAudio(bytes),
      },
      connectionDeps,
    );
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionSnapshot => this.snapshot;

  private update(patch: Partial<SessionSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of this.listeners) listener();
  }

  /** Loads the stored events first, so the transcript shows the conversation so far. */
  async loadPast(): Promise<void> {
    try {
      const detail = await this.loadHistory(this.conversationId);
      const past = detail === null ? emptyConversation : viewFromEvents(detail.events);
      // Messages that arrived while loading are folded in after the stored past.
      this.update({ view: this.live.reduce(applyMessage, past), history: detail === null ? "new" : "loaded" });
    } catch (error) {
      this.update({ history: "failed", error: `Could not load this conversation's history: ${messageOf(error)}` });
    }
  }

  /** A conversation created on this page: nothing stored to load. */
  markNew(): void {
    if (this.snapshot.history === "loading") this.update({ history: "new" });
  }

  /** Starts a new session in this conversation. */
  async start(): Promise<void> {
    await this.begin(null);
  }

  /** Joins the conversation's live session (run by another device) from this one. A listener's
   * microphone is not opened at all. */
  async join(role: DeviceRole): Promise<void> {
    await this.begin(role);
  }

  private async begin(join: DeviceRole | null): Promise<void> {
    if (this.snapshot.running || this.starting) return;
    this.starting = true;
    this.update({ running: true, joined: join, device: null, floor: null, error: null, state: "connecting", stateMessage: null });
    stats.state = "connecting";
    try {
      this.audio = await this.audioFactory((frame) => this.sendFrame(frame), {
        micMuted: this.snapshot.micMuted,
        speakerMuted: this.snapshot.speakerMuted,
        onHeard: (turn) => this.onHeard(turn),
        microphone: join !== "listener",
      });
    } catch (error) {
      this.starting = false;
      const what = join === "listener" ? "Audio unavailable" : "Microphone unavailable";
      this.update({ running: false, joined: null, state: "error", error: `${what}: ${messageOf(error)}` });
      stats.state = "error";
      return;
    }
    this.starting = false;
    if (!this.snapshot.running) {
      // Stopped while the microphone prompt was open.
      await this.releaseAudio();
      return;
    }
    if (join === null) this.connection.start();
    else this.connection.join(join);
  }

  /** Stop: ends the session started here (or leaves it, when other devices are in it), or leaves
   * the session this device joined. */
  stop(): void {
    if (!this.snapshot.running) return;
    this.update({ running: false, joined: null, assistantSpeaking: false, floor: null });
    this.connection.stop();
    void this.releaseAudio();
  }

  toggle(): void {
    if (this.snapshot.running) this.stop();
    else void this.start();
  }

  toggleMic(): void {
    if (this.snapshot.running && this.snapshot.joined === "listener") return; // no microphone
    const micMuted = !this.snapshot.micMuted;
    this.audio?.setMicMuted(micMuted);
    stats.micMuted = micMuted;
    this.update({ micMuted });
  }

  toggleSpeaker(): void {
    const speakerMuted = !this.snapshot.speakerMuted;
    this.audio?.setSpeakerMuted(speakerMuted);
    stats.speakerMuted = speakerMuted;
    this.update({ speakerMuted });
  }

  dismissError(): void {
    this.update({ error: null });
  }

  dispose(): void {
    this.stop();
  }

  private async releaseAudio(): Promise<void> {
    const audio = this.audio;
    this.audio = null;
    if (audio) {
      audio.clearPlayback();
      await audio.stop();
    }
  }

  private sendFrame(frame: Int16Array): void {
    // Muted means nothing leaves the browser (not even silence), from this frame on.
    if (this.snapshot.micMuted) {
      stats.framesDroppedMuted++;
      return;
    }
    const rms = rmsInt16(frame);
    if (!this.connection.sendAudio(int16ToLittleEndianBytes(frame))) return;
    this.ear.frameSent(frame, performance.now());
    stats.framesSent++;
    stats.bytesSent += frame.length * 2;
    stats.frameSamples = frame.length;
    stats.frameMs = (frame.length / WIRE_SAMPLE_RATE) * 1000;
    stats.lastFrameRms = rms;
    if (rms > stats.maxFrameRms) stats.maxFrameRms = rms;
  }

  /** An assistant turn finished playing: what was heard goes to the gateway and the view. */
  private onHeard(turn: HeardTurn): void {
    const heard = this.ear.heard(turn);
    this.connection.sendStats(heard);
    stats.turnsHeard++;
    const byUser = heard.mouth_to_ear_ms !== null && heard.mouth_to_ear_ms !== undefined;
    if (byUser) stats.lastMouthToEarMs = heard.mouth_to_ear_ms ?? null;
    const gatewayVoiceMs = byUser ? this.voiceMsForTurn : null;
    this.voiceMsForTurn = null;
    stats.heardTurns.push({ ...heard, gateway_voice_ms: gatewayVoiceMs });
    if (stats.heardTurns.length > 50) stats.heardTurns.shift();
    this.update({ heard });
  }

  private onAudio(bytes: ArrayBuffer): void {
    stats.chunksReceived++;
    stats.bytesReceived += bytes.byteLength;
    this.audio?.play(bytes);
  }

  private onState(state: ConnectionState, message: string | null): void {
    stats.state = state;
    const ended = state === "closed" || state === "error";
    const patch: Partial<SessionSnapshot> = { state, stateMessage: ended ? null : message };
    // A session being resumed goes on: what was received plays on, and what was missed comes
    // again. Only a new session's audio starts from nothing.
    if (state === "reconnecting" && !this.connection.resuming) {
      this.audio?.clearPlayback();
      patch.assistantSpeaking = false;
    }
    if (ended) {
      patch.running = false;
      patch.joined = null;
      patch.assistantSpeaking = false;
      patch.floor = null;
      void this.releaseAudio();
    }
    if (message !== null && ended) patch.error = message;
    this.update(patch);
  }

  /** Folds a live message into the view (and keeps it to fold after the past still loading). */
  private fold(message: ServerMessage, patch: Partial<SessionSnapshot> = {}): void {
    if (this.snapshot.history === "loading") this.live.push(message);
    this.update({ ...patch, view: applyMessage(this.snapshot.view, message) });
  }

  private onMessage(message: ServerMessage): void {
    switch (message.type) {
      case "interruption":
        this.audio?.clearPlayback();
        return;
      case "latency":
        if (message.metric === "voice") {
          this.voiceMsForTurn = message.ms;
          this.update({ latencyMs: message.ms });
        }
        return;
      case "speaking":
        if (!message.speaking) this.audio?.assistantStopped();
        this.update({ assistantSpeaking: message.speaking });
        return;
      case "error":
        this.update({ error: message.fatal ? `${message.message} (${message.code})` : message.message });
        return;
      case "session":
        // The connection acts on them (resume keys stay there); the view shows nothing, and a
        // resume leaves it as it was. Started or joined: the name this device has in the session;
        // joined, also the role (a device that started the session may have joined it back).
        if (message.state === "started") {
          this.fold(message, { device: message.device });
        } else if (message.state === "joined") {
          this.fold(message, { device: message.device, joined: this.snapshot.running ? this.connection.joined : null });
        } else if (message.state === "stopped") {
          this.update({ floor: null });
        }
        return;
      case "floor":
        this.fold(message, { floor: message.device });
        return;
      case "transcription":
      case "function_call":
      case "function_result":
      case "progress":
        this.fold(message);
        return;
      default:
        return;
    }
  }
}

function messageOf(error: unknown): string {
  if (error instanceof DOMException && error.name === "NotAllowedError") return "permission was denied";
  return error instanceof Error ? error.message : String(error);
}

