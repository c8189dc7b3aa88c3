import { useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { Link, useLocation, useParams } from "react-router-dom";
import { ConnectionStatus } from "../components/ConnectionStatus";
import { ErrorBanner } from "../components/ErrorBanner";
import { FloorIndicator } from "../components/FloorIndicator";
import { MicIcon, PowerIcon, SpeakerIcon } from "../components/Icons";
import { LevelMeter } from "../components/LevelMeter";
import { MuteToggle } from "../components/MuteToggle";
import { ShortcutsHelp } from "../components/ShortcutsHelp";
import { Transcript } from "../components/Transcript";
import { AudioEngine } from "../audio/engine";
import { isConversationId } from "../protocol/ids";
import type { DeviceRole } from "../protocol/messages";
import { getDeviceName, subscribeDeviceName } from "../session/deviceName";
import { VoiceSession } from "../session/voiceSession";
import { useShortcuts } from "./useShortcuts";

export function VoicePage() {
  const { conversationId = "" } = useParams();
  if (!isConversationId(conversationId)) {
    return (
      <main className="page">
        <h1>Not a valid conversation id</h1>
        <p>
          <Link to="/">Back to conversations</Link>
        </p>
      </main>
    );
  }
  return <Conversation key={conversationId} conversationId={conversationId} />;
}

function Conversation({ conversationId }: { conversationId: string }) {
  // A conversation just created here has nothing stored yet: asking would only log a 404.
  const fresh = (useLocation().state as { fresh?: boolean } | null)?.fresh === true;
  const session = useMemo(
    () => new VoiceSession(conversationId, (sink, options) => AudioEngine.start(sink, options)),
    [conversationId],
  );
  const snap = useSyncExternalStore(session.subscribe, session.getSnapshot);
  const deviceName = useSyncExternalStore(subscribeDeviceName, getDeviceName);
  const [helpOpen, setHelpOpen] = useState(false);
  const [joinAs, setJoinAs] = useState<DeviceRole>("speaker");
  const listening = snap.running && snap.joined === "listener";

  useEffect(() => {
    if (fresh) session.markNew();
    else void session.loadPast();
    return () => session.dispose();
  }, [session, fresh]);

  const handlers = useMemo(
    () => ({
      toggle: () => session.toggle(),
      mic: () => session.toggleMic(),
      speaker: () => session.toggleSpeaker(),
      help: () => setHelpOpen((v) => !v),
    }),
    [session],
  );
  useShortcuts(handlers);

  const busy = snap.state === "connecting" && snap.running;
  return (
    <main className="page voice-page" aria-labelledby="voice-title">
      <div className="page-head">
        <div>
          <h1 id="voice-title">Conversation</h1>
          <p className="muted small mono">{conversationId}</p>
          <p className="muted small" data-testid="device-line">
            This device: <strong data-testid="device-name">{snap.device ?? deviceName}</strong>
            {snap.running && snap.joined && ` · joined the live session as a ${snap.joined}`}
          </p>
        </div>
        <Link to={`/history/${encodeURIComponent(conversationId)}`} className="button ghost">
          History
        </Link>
      </div>

      <ErrorBanner message={snap.error} onDismiss={() => session.dismissError()} />

      <section className="controls" aria-label="Session controls">
        <button
          type="button"
          className={`start-stop ${snap.running ? "danger" : "primary"}`}
          aria-pressed={snap.running}
          aria-busy={busy}
          onClick={() => session.toggle()}
          data-testid="start-stop"
        >
          <PowerIcon running={snap.running} /> {snap.running ? (snap.joined ? "Leave" : "Stop") : "Start"}
        </button>
        {!snap.running && (
          <span className="join" role="group" aria-label="Join from this device">
            <button
              type="button"
              onClick={() => void session.join(joinAs)}
              data-testid="join"
              title="Join the session another device is running in this conversation"
            >
              Join the live session
            </button>
            <select
              value={joinAs}
              onChange={(e) => setJoinAs(e.target.value === "listener" ? "listener" : "speaker")}
              aria-label="Join as"
              data-testid="join-role"
            >
              <option value="speaker">as a speaker</option>
              <option value="listener">as a listener</option>
            </select>
          </span>
        )}
        <MuteToggle
          muted={snap.micMuted || listening}
          onToggle={() => session.toggleMic()}
          icon={<MicIcon off={snap.micMuted || listening} />}
          on="Mic on"
          off={listening ? "No mic (listener)" : "Mic muted"}
          testId="mic-mute"
          disabled={listening}
        />
        <MuteToggle
          muted={snap.speakerMuted}
          onToggle={() => session.toggleSpeaker()}
          icon={<SpeakerIcon off={snap.speakerMuted} />}
          on="Speaker on"
          off="Speaker muted"
          testId="speaker-mute"
        />
      </section>

      <section className="status-row" aria-label="Session status">
        <ConnectionStatus state={snap.state} message={snap.stateMessage} />
        <div className="latency" data-testid="latency" data-ms={snap.latencyMs ?? ""}>
          Last turn:{" "}
          <strong>{snap.latencyMs === null ? "—" : `${Math.round(snap.latencyMs)} ms`}</strong>
        </div>
        {snap.assistantSpeaking && <span className="speaking">Assistant speaking</span>}
        <FloorIndicator floor={snap.floor} thisDevice={snap.device} />
      </section>

      {snap.heard && (
        <details className="heard" data-testid="heard">
          <summary>At your ear (last turn)</summary>
          <dl>
            <dt>Mouth to ear</dt>
            <dd data-testid="heard-mouth-to-ear">
              {snap.heard.mouth_to_ear_ms == null ? "— (not your turn)" : `${Math.round(snap.heard.mouth_to_ear_ms)} ms`}
            </dd>
            <dt>Gaps while playing</dt>
            <dd data-testid="heard-underruns">
              {snap.heard.underruns} ({Math.round(snap.heard.underrun_ms)} ms of silence)
            </dd>
            <dt>Jitter buffer</dt>
            <dd data-testid="heard-buffer">{Math.round(snap.heard.buffer_ms)} ms</dd>
          </dl>
        </details>
      )}

      <section className="meters" aria-label="Audio levels">
        <LevelMeter
          which="mic"
          label={listening ? "Mic (not used: listening)" : snap.micMuted ? "Mic (muted)" : "Mic"}
          testId="mic-meter"
        />
        <LevelMeter which="assistant" label="Assistant" testId="assistant-meter" />
      </section>

      <Transcript
        view={snap.view}
        thisDevice={snap.device ?? deviceName}
        empty={
          snap.history === "loading"
            ? "Loading this conversation…"
            : "Press Start (or Space) and speak, or join the session another device is running. What is said appears here."
        }
      />

      <footer className="page-foot">
        <ShortcutsHelp open={helpOpen} onToggle={() => setHelpOpen((v) => !v)} />
      </footer>
    </main>
  );
}
