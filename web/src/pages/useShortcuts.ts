import { useEffect } from "react";

export type ShortcutHandlers = Partial<Record<"toggle" | "mic" | "speaker" | "help", () => void>>;

function typingInto(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

/** Maps a key press to a shortcut, or null when the key belongs to something else. */
export function shortcutFor(event: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "target">): keyof ShortcutHandlers | null {
  if (event.ctrlKey || event.metaKey || event.altKey || typingInto(event.target)) return null;
  const key = event.key;
  // Space on a focused button presses that button; do not also toggle the session.
  if (key === " " && event.target instanceof HTMLElement && ["BUTTON", "A", "SUMMARY"].includes(event.target.tagName)) {
    return null;
  }
  if (key === " " || key === "s" || key === "S") return "toggle";
  if (key === "m" || key === "M") return "mic";
  if (key === "k" || key === "K") return "speaker";
  if (key === "?") return "help";
  return null;
}

export function useShortcuts(handlers: ShortcutHandlers): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.repeat) return;
      const which = shortcutFor(event);
      const handler = which ? handlers[which] : undefined;
      if (!handler) return;
      event.preventDefault();
      handler();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [handlers]);
}
