// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { shortcutFor } from "./useShortcuts";

const press = (key: string, target: EventTarget | null = document.body, mods: Partial<KeyboardEvent> = {}) =>
  shortcutFor({ key, target, ctrlKey: false, metaKey: false, altKey: false, ...mods });

describe("keyboard shortcuts", () => {
  it("maps Space/s, m, k and ? on the page", () => {
    expect(press(" ")).toBe("toggle");
    expect(press("s")).toBe("toggle");
    expect(press("m")).toBe("mic");
    expect(press("k")).toBe("speaker");
    expect(press("?")).toBe("help");
    expect(press("x")).toBeNull();
  });

  it("leaves keys alone while typing, with modifiers, and Space on a focused button", () => {
    const input = document.createElement("input");
    expect(press("s", input)).toBeNull();
    expect(press("m", document.createElement("textarea"))).toBeNull();
    expect(press("s", document.body, { ctrlKey: true })).toBeNull();
    expect(press(" ", document.createElement("button"))).toBeNull();
    expect(press("m", document.createElement("button"))).toBe("mic");
  });
});
