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
    expect(voiceSocketUrl("conv-1", null, where, null, { join: null, device: null })).toBe(
      "wss://jetson:8443/api/realtime/pipecat/ws/conv-1?format=raw",
    );
  });
});
