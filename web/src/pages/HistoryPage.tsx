import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import {
  deleteConversation,
  downloadExport,
  exportUrl,
  listRecordings,
  loadConversation,
  renameConversation,
  type ExportFormat,
} from "../api/client";
import { getToken } from "../api/token";
import type { ConversationDetail, Recording } from "../api/types";
import { ErrorBanner } from "../components/ErrorBanner";
import { RecordingPlayer } from "../components/RecordingPlayer";
import { describeEvent } from "./describeEvent";
import { formatTime, formatWhen } from "./format";
import { lineAt, transcriptLines } from "./recordingSync";

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function HistoryPage() {
  const { conversationId = "" } = useParams();
  const navigate = useNavigate();
  const [detail, setDetail] = useState<ConversationDetail | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [showAll, setShowAll] = useState(true);
  // Recordings, and when the audio at the player's position was heard (the transcript follows).
  const [recordings, setRecordings] = useState<Recording[]>([]);
  const [position, setPosition] = useState<number | null>(null);
  const lines = useMemo(() => transcriptLines(detail?.events ?? []), [detail]);
  const playing = position === null ? null : lineAt(lines, position);
  const items = useRef(new Map<number, HTMLLIElement>());

  useEffect(() => {
    let live = true;
    loadConversation(conversationId)
      .then((d) => live && setDetail(d))
      .catch((e: unknown) => {
        if (!live) return;
        setDetail(null);
        setError(messageOf(e));
      });
    // A store without recordings (or that refuses the list) just shows none.
    listRecordings(conversationId)
      .then((r) => live && setRecordings(Array.isArray(r) ? r : []))
      .catch(() => live && setRecordings([]));
    return () => {
      live = false;
    };
  }, [conversationId]);

  useEffect(() => {
    if (playing !== null) items.current.get(playing)?.scrollIntoView?.({ block: "nearest", behavior: "smooth" });
  }, [playing]);

  if (detail === undefined) {
    return (
      <main className="page">
        <p role="status" className="muted">
          Loading…
        </p>
      </main>
    );
  }
  if (detail === null) {
    return (
      <main className="page">
        <ErrorBanner message={error} onDismiss={() => setError(null)} />
        <h1>Conversation not found</h1>
        <p>
          <Link to="/">Back to conversations</Link>
        </p>
      </main>
    );
  }

  const save = async () => {
    const trimmed = name.trim();
    if (!trimmed) return;
    try {
      const updated = await renameConversation(detail.id, trimmed);
      setDetail({ ...detail, ...updated, events: detail.events });
      setRenaming(false);
    } catch (e) {
      setError(`Rename failed: ${messageOf(e)}`);
    }
  };

  const remove = async () => {
    try {
      await deleteConversation(detail.id);
      navigate("/");
    } catch (e) {
      setError(`Delete failed: ${messageOf(e)}`);
      setConfirming(false);
    }
  };

  const exportLink = (format: ExportFormat, label: string, testId: string) => (
    <a
      className="button ghost"
      href={new URL(exportUrl(detail.id, format), window.location.origin).href}
      download={`conversation-${detail.id}.${format === "markdown" ? "md" : "json"}`}
      data-testid={testId}
      onClick={(event) => {
        // A link cannot carry the bearer header: with a token, fetch and save instead.
        if (!getToken()) return;
        event.preventDefault();
        downloadExport(detail.id, format).catch((e: unknown) => setError(messageOf(e)));
      }}
    >
      {label}
    </a>
  );

  const events = showAll ? detail.events : detail.events.filter((e) => describeEvent(e).tone !== "other");
  return (
    <main className="page history-page" aria-labelledby="history-title">
      <div className="page-head">
        <div>
          {renaming ? (
            <form
              className="rename-form"
              onSubmit={(event) => {
                event.preventDefault();
                void save();
              }}
            >
              <label htmlFor="rename-input" className="sr-only">
                New name
              </label>
              <input
                id="rename-input"
                value={name}
                maxLength={200}
                autoFocus
                onChange={(e) => setName(e.target.value)}
                onKeyDown={(e) => e.key === "Escape" && setRenaming(false)}
                data-testid="rename-input"
              />
              <button type="submit" className="primary" data-testid="rename-save">
                Save
              </button>
              <button type="button" className="ghost" onClick={() => setRenaming(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <h1 id="history-title">{detail.name || "Untitled conversation"}</h1>
          )}
          <p className="muted small">
            <span className="mono">{detail.id}</span> · started {formatWhen(detail.created_at)} · last activity{" "}
            {formatWhen(detail.updated_at)} · {detail.event_count} events
          </p>
        </div>
        <Link to={`/voice/${encodeURIComponent(detail.id)}`} className="button primary">
          Talk
        </Link>
      </div>

      <ErrorBanner message={error} onDismiss={() => setError(null)} />

      <div className="toolbar" role="toolbar" aria-label="Conversation actions">
        {!renaming && (
          <button
            type="button"
            className="ghost"
            data-testid="rename"
            onClick={() => {
              setName(detail.name ?? "");
              setRenaming(true);
            }}
          >
            Rename
          </button>
        )}
        {exportLink("json", "Export JSON", "export-json")}
        {exportLink("markdown", "Export Markdown", "export-markdown")}
        {confirming ? (
          <span className="confirm" role="group" aria-label="Confirm delete">
            <span>Delete for good?</span>
            <button type="button" className="danger" data-testid="delete-confirm" onClick={() => void remove()} autoFocus>
              Yes, delete
            </button>
            <button type="button" className="ghost" onClick={() => setConfirming(false)}>
              Keep
            </button>
          </span>
        ) : (
          <button type="button" className="ghost danger-text" data-testid="delete" onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
        <label className="check">
          <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} /> All events
        </label>
      </div>

      <RecordingPlayer
        conversationId={detail.id}
        recordings={recordings}
        onPosition={setPosition}
        onError={(message) => setError(message)}
      />

      <ol className="history" aria-label="Events">
        {events.length === 0 && <li className="empty">No events.</li>}
        {events.map((event) => {
          const line = describeEvent(event);
          return (
            <li
              key={event.id}
              ref={(item) => {
                if (item) items.current.set(event.id, item);
                else items.current.delete(event.id);
              }}
              className={`history-event tone-${line.tone}${event.id === playing ? " playing" : ""}`}
              aria-current={event.id === playing ? "true" : undefined}
              data-testid="history-event"
              data-kind={event.type}
              data-source={event.source}
            >
              <time dateTime={event.timestamp} className="muted small">
                {formatTime(event.timestamp)}
              </time>
              <span className="speaker">{line.speaker}</span>
              <span className="text">
                {line.text}
                {line.raw !== undefined && (
                  <details>
                    <summary>Details</summary>
                    <pre>{line.raw}</pre>
                  </details>
                )}
              </span>
            </li>
          );
        })}
      </ol>
    </main>
  );
}
