import type { ReactNode } from "react";

/** A mute toggle: pressed while muted, its label saying which state it is in. */
export function MuteToggle(props: {
  muted: boolean;
  onToggle: () => void;
  icon: ReactNode;
  on: string;
  off: string;
  testId: string;
  disabled?: boolean;
}) {
  return (
    <button
      type="button"
      className="toggle"
      aria-pressed={props.muted}
      onClick={props.onToggle}
      disabled={props.disabled}
      data-testid={props.testId}
    >
      {props.icon} {props.muted ? props.off : props.on}
    </button>
  );
}
