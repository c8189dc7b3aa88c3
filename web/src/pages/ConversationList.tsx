import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { listConversations } from "../api/client";
import { subscribeToken } from "../api/token";
import type { ConversationSummary } from "../api/types";
import { ErrorBanner } from "../components/ErrorBanner";
import { newConversationId } from "../protocol/ids";
import { formatWhen } from "./format";

export function ConversationList() {
  const navigate = useNavigate();
  const [items, setItems] = useState<ConversationSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tokenVersion, setTokenVersion] = useState(0);

  // A token saved in Settings may be what was missing: ask again.
  useEffect(() => {
    const unsubscribe = subscribeToken(() => setTokenVersion((v) => v + 1));
    return () => void unsubscribe();
  }, []);

  useEffect(() => {
    let live = true;
    setError(null);
    listConversations()
      .then((list) => {
        if (!live) return;
        // The API already answers most recently active first; sorting again keeps that promise
        // whatever the server does.
        setItems([...list].sort((a, b) => (a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : 0)));
      })
      .catch((e: unknown) => {
        if (!live) return;
        setItems([]);
        setError(`Could not load conversations: ${e instanceof Error ? e.message : String(e)}`);
      });
    return () => {
      live = false;
    };
  }, [tokenVersion]);

  return (
    <main className="page list-page" aria-labelledby="list-title">
      <div className="page-head">
        <h1 id="list-title">Conversations</h1>
        <button
          type="button"
          className="primary"
          data-testid="new-conversation"
          onClick={() => navigate(`/voice/${newConversationId()}`, { state: { fresh: true } })}
        >
          + New conversation
        </button>
      </div>
      <ErrorBanner message={error} onDismiss={() => setError(null)} />
      {items === null && <p className="muted" role="status">Loading…</p>}
      {items !== null && items.length === 0 && !error && (
        <p className="empty">No conversations yet. Start one and say hello.</p>
      )}
      {items !== null && items.length > 0 && (
        <ul className="conversation-list">
          {items.map((c) => (
            <li key={c.id} className="conversation-item" data-testid="conversation-item" data-conversation-id={c.id}>
              <div className="conversation-main">
                <Link to={`/history/${encodeURIComponent(c.id)}`} className="conversation-title" data-testid="open-history">
                  {c.name || "Untitled conversation"}
                </Link>
                <span className="muted small mono">{c.id}</span>
                <span className="muted small">
                  {formatWhen(c.updated_at)} · {c.event_count} {c.event_count === 1 ? "event" : "events"}
                </span>
              </div>
              <Link
                to={`/voice/${encodeURIComponent(c.id)}`}
                className="button ghost"
                data-testid="open-voice"
                aria-label={`Talk in ${c.name || c.id}`}
              >
                Talk
              </Link>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
