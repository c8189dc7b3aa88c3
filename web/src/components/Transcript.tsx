import { useEffect, useRef } from "react";
import { showsDevices, type ConversationView, type TranscriptLine } from "../session/conversation";
import { ToolCard } from "./ToolCard";

type Item = { order: number } & (
  | { kind: "line"; line: ConversationView["lines"][number] }
  | { kind: "card"; card: ConversationView["cards"][number] }
);

/** Who spoke a line. With several devices in the conversation, a user line names its device
 * ("Phone", or "Laptop (you)" for this one); else "You". */
function speakerOf(line: TranscriptLine, named: boolean, thisDevice: string | null): string {
  if (line.role === "assistant") return "Assistant";
  if (!named || line.device === null) return "You";
  return line.device === thisDevice ? `${line.device} (you)` : line.device;
}

/** Lines and tool cards in the order they happened; a polite live region for screen readers.
 * `thisDevice`: this page's device name in the session, to tell its own lines apart. */
export function Transcript({
  view,
  empty,
  thisDevice = null,
}: {
  view: ConversationView;
  empty: string;
  thisDevice?: string | null;
}) {
  const named = showsDevices(view);
  const end = useRef<HTMLDivElement>(null);
  const items: Item[] = [
    ...view.lines.map((line): Item => ({ kind: "line", line, order: line.order })),
    ...view.cards.map((card): Item => ({ kind: "card", card, order: card.order })),
  ];
  items.sort((a, b) => a.order - b.order);

  // Follow new lines only while the reader is at the bottom: scrolling up to read stays put.
  const following = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      const root = document.documentElement;
      following.current = window.innerHeight + window.scrollY >= root.scrollHeight - 160;
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);
  useEffect(() => {
    if (!following.current) return;
    const calm = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    end.current?.scrollIntoView?.({ block: "end", behavior: calm ? "auto" : "smooth" });
  }, [view.seq]);

  return (
    <section className="transcript" data-testid="transcript" role="log" aria-live="polite" aria-label="Transcript">
      {items.length === 0 && <p className="empty">{empty}</p>}
      {items.map((item) =>
        item.kind === "line" ? (
          <p
            key={item.line.id}
            className={`line role-${item.line.role}${item.line.final ? "" : " partial"}`}
            data-testid="transcript-line"
            data-role={item.line.role}
            data-device={item.line.device ?? undefined}
          >
            <span className="speaker" data-testid="line-speaker">
              {speakerOf(item.line, named, thisDevice)}
            </span>
            <span className="text">{item.line.text}</span>
          </p>
        ) : (
          <ToolCard key={item.card.key} card={item.card} />
        ),
      )}
      <div ref={end} />
    </section>
  );
}
