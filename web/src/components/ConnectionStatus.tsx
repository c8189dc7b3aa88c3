import type { ConnectionState } from "../session/reconnect";

/** The connection's state word and, beside it, what it is doing about it ("Connection lost;
 * resuming…", "retrying in 1.5 s."): the word alone would leave a person guessing whether
 * anything is happening. The message's element is always there, empty when there is none, so a
 * screen reader announces each new one (a live region inserted with its text often is not). */
export function ConnectionStatus({ state, message }: { state: ConnectionState; message: string | null }) {
  return (
    <div className={`state state-${state}`}>
      <span className="dot" aria-hidden="true" />
      <span className="sr-only">Connection: </span>
      <span data-testid="connection-state" data-state={state} className="state-code">
        {state}
      </span>
      <span className="state-message muted small" data-testid="connection-message" role="status">
        {message ?? ""}
      </span>
    </div>
  );
}
