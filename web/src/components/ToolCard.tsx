import type { ToolCard as ToolCardModel } from "../session/conversation";

const LABELS: Record<string, string> = {
  send_to_nested: "Agent team",
  send_to_claude_code: "Claude Code",
  pause: "Pause team",
  reset: "Reset team",
  pause_claude_code: "Pause Claude Code",
  nested_agent: "Agent team activity",
  claude_code: "Claude Code activity",
};

const STATUS_TEXT = { running: "running", done: "done", failed: "failed" } as const;

function argumentsText(args: Record<string, unknown>): string {
  const entries = Object.entries(args);
  if (entries.length === 1 && typeof entries[0]![1] === "string") return entries[0]![1];
  return entries.length ? JSON.stringify(args) : "";
}

export function ToolCard({ card }: { card: ToolCardModel }) {
  const args = argumentsText(card.arguments);
  return (
    <article
      className={`tool-card status-${card.status}`}
      data-testid="tool-card"
      data-call-id={card.callId}
      data-name={card.name}
      data-status={card.status}
      aria-label={`${LABELS[card.name] ?? card.name}: ${STATUS_TEXT[card.status]}`}
    >
      <header className="tool-card-head">
        <span className="tool-name">{LABELS[card.name] ?? card.name}</span>
        <code className="tool-id">{card.name}</code>
        <span className={`status-pill status-${card.status}`}>{STATUS_TEXT[card.status]}</span>
      </header>
      {args && <p className="tool-args">{args}</p>}
      {card.result !== null && (
        <p className={`tool-result ${card.ok ? "ok" : "failed"}`} data-testid="tool-result" data-ok={String(card.ok)}>
          <span className="sr-only">{card.ok ? "Answer: " : "Failed: "}</span>
          {card.result}
        </p>
      )}
      {card.progress.length > 0 && (
        <ol className="tool-progress-list">
          {card.progress.map((entry) => (
            <li
              key={entry.id}
              className={entry.finished ? "finished" : undefined}
              data-testid="tool-progress"
              data-event-type={entry.eventType}
            >
              {entry.text}
            </li>
          ))}
        </ol>
      )}
    </article>
  );
}
