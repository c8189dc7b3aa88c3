import { useEffect, useRef, useState } from "react";
import { getToken, setToken } from "../api/token";
import { defaultDeviceName, getStoredDeviceName, setDeviceName } from "../session/deviceName";
import { getRecordChoice, isRecordChoice, setRecordChoice, type RecordChoice } from "../session/recordChoice";

/** The access token (when the operator set GATEWAY_TOKEN), this device's name, and whether the
 * sessions it starts are recorded, stored in this browser. */
export function SettingsDialog() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(getToken);
  const [device, setDevice] = useState(getStoredDeviceName);
  const [record, setRecord] = useState<RecordChoice>(getRecordChoice);
  const [saved, setSaved] = useState<string | null>(null);

  useEffect(() => setSaved(null), [value, device, record]);

  return (
    <>
      <button
        type="button"
        className="ghost"
        onClick={() => {
          setValue(getToken());
          setDevice(getStoredDeviceName());
          setRecord(getRecordChoice());
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
            setRecordChoice(record);
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
          <label htmlFor="record-select">Record conversations</label>
          <select
            id="record-select"
            value={record}
            onChange={(e) => {
              if (isRecordChoice(e.target.value)) setRecord(e.target.value);
            }}
            data-testid="record-select"
          >
            <option value="default">server default</option>
            <option value="always">always</option>
            <option value="never">never</option>
          </select>
          <p className="hint">
            Both sides of the sessions this device starts, kept with the conversation and playable from its history.
            A session joined from here is recorded as the device that started it says. Applies from the next session.
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
