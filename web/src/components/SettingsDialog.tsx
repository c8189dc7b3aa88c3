import { useEffect, useRef, useState } from "react";
import { getToken, setToken } from "../api/token";

/** The access token (when the operator set GATEWAY_TOKEN), stored in this browser. */
export function SettingsDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(getToken);
  const [saved, setSaved] = useState(false);

  useEffect(() => setSaved(false), [value]);

  return (
    <>
      <button
        type="button"
        className="ghost"
        onClick={() => {
          setValue(getToken());
          dialog.current?.showModal?.();
        }}
        data-testid="open-settings"
      >
        Settings
      </button>
      <dialog ref={dialog} className="settings" aria-labelledby="settings-title">
        <form
          method="dialog"
          onSubmit={() => {
            setToken(value.trim());
            setSaved(true);
          }}
        >
          <h2 id="settings-title">Settings</h2>
          <label htmlFor="token-input">Access token</label>
          <input
            id="token-input"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="only if the operator set one"
            data-testid="token-input"
          />
          <p className="hint">Kept in this browser only. Sent as a bearer token and on the voice connection.</p>
          <div className="row end">
            <button type="button" className="ghost" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" className="primary" data-testid="token-save">
              Save
            </button>
          </div>
          {saved && <p role="status">Saved.</p>}
        </form>
      </dialog>
    </>
  );
}
