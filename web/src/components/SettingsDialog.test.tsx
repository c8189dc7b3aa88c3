// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { getRecordChoice, setRecordChoice } from "../session/recordChoice";
import { SettingsDialog } from "./SettingsDialog";

afterEach(() => {
  cleanup();
  localStorage.clear();
});

describe("SettingsDialog", () => {
  it("keeps the record choice on Save, and shows the one kept when opened again", () => {
    render(<SettingsDialog />);
    const select = screen.getByTestId<HTMLSelectElement>("record-select");
    expect(select.value).toBe("default");
    expect([...select.options].map((o) => o.textContent)).toEqual(["server default", "always", "never"]);
    fireEvent.change(select, { target: { value: "never" } });
    expect(getRecordChoice()).toBe("default"); // not before Save
    fireEvent.submit(select.form!);
    expect(getRecordChoice()).toBe("never");

    setRecordChoice("always"); // changed elsewhere (another tab) meanwhile
    fireEvent.click(screen.getByTestId("open-settings"));
    expect(select.value).toBe("always");
    fireEvent.change(select, { target: { value: "default" } });
    fireEvent.submit(select.form!);
    expect(getRecordChoice()).toBe("default");
  });
});
