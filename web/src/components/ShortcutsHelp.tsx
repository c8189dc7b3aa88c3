import { useId } from "react";

export const SHORTCUTS: [string, string][] = [
  ["Space or S", "start / stop"],
  ["M", "mute / unmute the microphone"],
  ["K", "mute / unmute the speaker"],
  ["?", "show these shortcuts"],
];

/** A `?` toggle that shows the page's keyboard shortcuts. */
export function ShortcutsHelp({ open, onToggle }: { open: boolean; onToggle: () => void }) {
  const id = useId();
  return (
    <div className="shortcuts">
      <button
        type="button"
        className="ghost"
        aria-expanded={open}
        aria-controls={id}
        onClick={onToggle}
        data-testid="shortcuts-toggle"
      >
        ? Shortcuts
      </button>
      {open && (
        <dl id={id} className="shortcuts-list">
          {SHORTCUTS.map(([keys, what]) => (
            <div key={keys}>
              <dt>
                <kbd>{keys}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}
