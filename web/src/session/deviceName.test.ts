// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  cleanDeviceName,
  defaultDeviceName,
  getDeviceName,
  getStoredDeviceName,
  isDeviceName,
  setDeviceName,
  subscribeDeviceName,
} from "./deviceName";

afterEach(() => {
  localStorage.clear();
  vi.unstubAllGlobals();
});

describe("device names", () => {
  it("takes what the gateway takes: ^[\\w][\\w .'-]{0,31}$, any script", () => {
    for (const good of ["Phone", "Jo's laptop", "TV-2", "kitchen_speaker", "Café", "Телефон", "x".repeat(32), "a.b"]) {
      expect(isDeviceName(good)).toBe(true);
    }
    for (const bad of ["", " Phone", "-x", "'x", "x".repeat(33), "a/b", "a<b>", "emoji 📱", "tab\tname"]) {
      expect(isDeviceName(bad)).toBe(false);
    }
  });

  it("cleans what a person types into such a name, or nothing", () => {
    expect(cleanDeviceName("  My   phone  ")).toBe("My phone");
    expect(cleanDeviceName("Jo's <laptop>!")).toBe("Jo's laptop");
    expect(cleanDeviceName("--phone")).toBe("phone");
    expect(cleanDeviceName("📱 Phone")).toBe("Phone");
    expect(cleanDeviceName("Cafe\u0301")).toBe("Café"); // composed, as the gateway's \w wants
    expect(cleanDeviceName("y".repeat(40))).toBe("y".repeat(32));
    expect(cleanDeviceName("😀".repeat(5) + "é".repeat(40))).toBe("é".repeat(32)); // characters, not bytes
    for (const nothing of ["", "   ", "!!!", "📱"]) expect(cleanDeviceName(nothing)).toBeNull();
  });

  it("names the browser and the platform by default", () => {
    const agents: [string, string][] = [
      ["Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"],
      ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"],
      ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"],
      ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0", "Firefox on macOS"],
      ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36", "Chrome on Linux"],
      ["curl/8.0", "This device"],
    ];
    for (const [agent, name] of agents) {
      expect(defaultDeviceName(agent)).toBe(name);
      expect(isDeviceName(name)).toBe(true);
    }
  });

  it("keeps the name set in Settings in this browser; empty goes back to the default", () => {
    vi.stubGlobal("navigator", { userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36" });
    let told = 0;
    const unsubscribe = subscribeDeviceName(() => told++);
    expect(getDeviceName()).toBe("Chrome on Linux");
    expect(setDeviceName("  Kitchen <tablet> ")).toBe("Kitchen tablet");
    expect(getStoredDeviceName()).toBe("Kitchen tablet");
    expect(getDeviceName()).toBe("Kitchen tablet");
    expect(setDeviceName("")).toBe("Chrome on Linux");
    expect(getStoredDeviceName()).toBe("");
    expect(told).toBe(2);
    unsubscribe();
    // A stored name the gateway would refuse (edited by hand) is cleaned, never sent as is.
    localStorage.setItem("agenticVoice.device", "  bad/name ");
    expect(getDeviceName()).toBe("bad name");
  });
});
