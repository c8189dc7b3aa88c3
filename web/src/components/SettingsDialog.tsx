import { useEffect, useRef, useState } from "react";
import { getToken, setToken } from "../api/token";
import { defaultDeviceName, getStoredDeviceName, setDeviceName } from "../session/deviceName";

/** The access token (when the operator set GATEWAY_TOKEN) and this device's name, stored in this
 * browser. */
export function SettingsDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(getToken);
  const [device, setDevice] = useState(getStoredDeviceName);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => setSaved(null), [value, device]);

  return (
    <>
      <button
        type="button"
        className="ghost"
        onClick={() => {
          setValue(getToken());
          setDevice(getStoredDeviceName());
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
            const name = setDeviceName(device);
            setDevice(getStoredDeviceName());
            setSaved(`Saved. This device is “${name}”.`);
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
          <label htmlFor="device-name-input">Device name</label>
          <input
            id="device-name-input"
            type="text"
            autoComplete="off"
            maxLength={64}
            value={device}
            onChange={(e) => setDevice(e.target.value)}
            placeholder={defaultDeviceName(typeof navigator === "undefined" ? "" : navigator.userAgent)}
            data-testid="device-name-input"
          />
          <p className="hint">
            How the transcript names this device when several share a conversation: letters, digits, spaces and{" "}
            <code>_ . &apos; -</code>, up to 32. Empty: the browser and platform.
          </p>
          <div className="row end">
            <button type="button" className="ghost" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" className="primary" data-testid="token-save">
              Save
            </button>
          </div>
          {saved && <p role="status">{saved}</p>}
        </form>
      </dialog>
    </>
  );
}
