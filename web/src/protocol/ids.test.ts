import { describe, expect, it } from "vitest";
import { isConversationId, newConversationId, voiceSocketUrl } from "./ids";

describe("conversation ids and URLs", () => {
  it("creates ids valid under protocol.md's rule, with the date and a random part", () => {
    const id = newConversationId(new Date(Date.UTC(2026, 11, 2, 8, 30, 15)), () => 0.5);
    expect(id).toMatch(/^conv-20261202-083015-[a-z0-9]{6}$/);
    expect(isConversationId(id)).toBe(true);
    const ids = new Set(Array.from({ length: 200 }, () => newConversationId()));
    expect(ids.size).toBe(200);
    for (const each of ids) expect(isConversationId(each)).toBe(true);
  });

  it("rejects ids the gateway would refuse", () => {
    for (const bad of ["", "-x", ".x", "a/b", "a b", "x".repeat(129)]) expect(isConversationId(bad)).toBe(false);
    expect(isConversationId("x".repeat(128))).toBe(true);
  });

  it("builds same-origin ws/wss URLs with format=raw and a ticket only when there is one", () => {
    expect(voiceSocketUrl("conv-1", null, { protocol: "https:", host: "jetson:8443" })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw",
    );
    expect(voiceSocketUrl("conv-1", "t1ck&t", { protocol: "http:", host: "localhost:5173" })).toBe(
      "ws://localhost:5173/api/realtime/pipecat/ws/conv-1?format=raw&ticket=t1ck%26t",
    );
  });

  it("names the session to resume, after the ticket", () => {
    const session = "0123456789abcdef0123456789abcdef";
    expect(voiceSocketUrl("conv-1", "t1", { protocol: "https:", host: "jetson:8443" }, session)).toBe(
      `wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&ticket=t1&resume=${session}`,
    );
    expect(voiceSocketUrl("conv-1", null, { protocol: "https:", host: "jetson:8443" }, session)).toBe(
      `wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&resume=${session}`,
    );
    expect(voiceSocketUrl("conv-1", null, { protocol: "https:", host: "jetson:8443" }, null)).not.toContain("resume");
  });

  it("joins the live session with join=live, the role and the device name; a new session names its device too", () => {
    const where = { protocol: "https:", host: "jetson:8443" };
    expect(voiceSocketUrl("conv-1", "t1", where, null, { join: "speaker", device: "Phone" })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&ticket=t1&join=live&role=speaker&device=Phone",
    );
    expect(voiceSocketUrl("conv-1", null, where, null, { join: "listener", device: "Living room TV" })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&join=live&role=listener&device=Living+room+TV",
    );
    expect(voiceSocketUrl("conv-1", null, where, null, { device: "Jo's laptop" })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&device=Jo%27s+laptop",
    );
    const parsed = new URL(voiceSocketUrl("conv-1", null, where, null, { join: "speaker", device: "Café 2" }));
    expect(parsed.searchParams.get("device")).toBe("Café 2");
    // A resume carries its session on: neither a join nor a name.
    const session = "0123456789abcdef0123456789abcdef";
    expect(voiceSocketUrl("conv-1", null, where, session, { join: "speaker", device: "Phone" })).toBe(
      `wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&resume=${session}`,
    );
    // This browser's id goes with a join only (the gateway tells a device joining again by it).
    const id = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
    expect(new URL(voiceSocketUrl("conv-1", null, where, null, { join: "speaker", deviceId: id })).searchParams.get("device_id")).toBe(id);
    expect(voiceSocketUrl("conv-1", null, where, null, { deviceId: id })).not.toContain("device_id");
    expect(voiceSocketUrl("conv-1", null, where, session, { join: "speaker", deviceId: id })).not.toContain("device_id");
    expect(voiceSocketUrl("conv-1", null, where, null, { join: null, device: null })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw",
    );
  });

  it("says record=1 or record=0 when the person chose, nothing for the server's default", () => {
    const where = { protocol: "https:", host: "jetson:8443" };
    const base = "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&ticket=t1&device=Laptop";
    expect(voiceSocketUrl("conv-1", "t1", where, null, { device: "Laptop", record: true })).toBe(`${base}&record=1`);
    expect(voiceSocketUrl("conv-1", "t1", where, null, { device: "Laptop", record: false })).toBe(`${base}&record=0`);
    expect(voiceSocketUrl("conv-1", "t1", where, null, { device: "Laptop", record: null })).toBe(base);
    expect(voiceSocketUrl("conv-1", "t1", where, null, { device: "Laptop" })).toBe(base);
  });

  it("never says record on a join or a resume: the session's start decided", () => {
    const where = { protocol: "https:", host: "jetson:8443" };
    for (const record of [true, false]) {
      for (const join of ["speaker", "listener"] as const) {
        const url = new URL(voiceSocketUrl("conv-1", null, where, null, { join, device: "Phone", record }));
        expect(url.searchParams.get("join")).toBe("live");
        expect(url.searchParams.has("record")).toBe(false);
      }
      const session = "0123456789abcdef0123456789abcdef";
      expect(voiceSocketUrl("conv-1", null, where, session, { device: "Laptop", record })).toBe(
        `wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw&resume=${session}`,
      );
    }
  });
});
