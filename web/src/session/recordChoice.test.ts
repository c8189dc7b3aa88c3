// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { getRecordChoice, isRecordChoice, recordFlag, setRecordChoice } from "./recordChoice";

afterEach(() => {
  localStorage.clear();
  vi.restoreAllMocks();
});

describe("the record choice", () => {
  it("is the server's default until one is made, then kept in this browser", () => {
    expect(getRecordChoice()).toBe("default");
    setRecordChoice("always");
    expect(getRecordChoice()).toBe("always");
    expect(localStorage.getItem("agenticVoice.record")).toBe("always");
    setRecordChoice("never");
    expect(getRecordChoice()).toBe("never");
    setRecordChoice("default"); // nothing stored, as in a browser that never chose
    expect(localStorage.getItem("agenticVoice.record")).toBeNull();
    expect(getRecordChoice()).toBe("default");
  });

  it("reads what it does not know, or no storage at all, as the server's default", () => {
    localStorage.setItem("agenticVoice.record", "sometimes");
    expect(getRecordChoice()).toBe("default");
    vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => {
      throw new DOMException("denied", "SecurityError");
    });
    expect(getRecordChoice()).toBe("default");
  });

  it("says record=1, record=0, or nothing", () => {
    expect(recordFlag("always")).toBe(true);
    expect(recordFlag("never")).toBe(false);
    expect(recordFlag("default")).toBeNull();
    expect(["default", "always", "never", "1", ""].map(isRecordChoice)).toEqual([true, true, true, false, false]);
  });
});
