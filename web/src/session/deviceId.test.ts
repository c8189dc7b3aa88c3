// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from "vitest";
import { DEVICE_ID, getDeviceId } from "./deviceId";

describe("getDeviceId", () => {
  beforeEach(() => localStorage.clear());

  it("makes one id the gateway takes, and keeps it", () => {
    const id = getDeviceId();
    expect(id).toMatch(DEVICE_ID);
    expect(getDeviceId()).toBe(id);
    expect(localStorage.getItem("agenticVoice.deviceId")).toBe(id);
  });

  it("replaces a stored value the gateway would refuse", () => {
    localStorage.setItem("agenticVoice.deviceId", "not an id!");
    expect(getDeviceId()).toMatch(DEVICE_ID);
  });
});
