import { describe, expect, it } from "vitest";
import { AUDIO_BYTES_PER_S, MAX_MESSAGES, ResumeLog, type Frame } from "./resumeLog";

const audio = (bytes: number, tag = 0) => new Uint8Array(bytes).fill(tag).buffer;
const tagOf = (frame: Frame) => (typeof frame === "string" ? frame : new Uint8Array(frame)[0]);

function drain(log: ResumeLog): Frame[] {
  const out: Frame[] = [];
  for (let f = log.next(); f !== null; f = log.next()) out.push(f);
  return out;
}

describe("ResumeLog", () => {
  it("counts frames received and numbers frames kept, carried once each in order", () => {
    const log = new ResumeLog();
    log.countReceived();
    log.countReceived();
    expect(log.received).toBe(2);
    log.keep(audio(960, 1));
    log.keep('{"type":"ping"}');
    expect(log.sent).toBe(2);
    expect(log.pending).toBe(2);
    expect(drain(log).map(tagOf)).toEqual([1, '{"type":"ping"}']);
    expect(log.pending).toBe(0);
    log.keep(audio(960, 2));
    expect(drain(log).map(tagOf)).toEqual([2]);
  });

  it("on a resume, carries again every frame from the gateway's count on, in order", () => {
    const log = new ResumeLog();
    for (let i = 1; i <= 5; i++) log.keep(audio(960, i));
    drain(log); // all five went out on the connection that was lost
    log.keep(audio(960, 6)); // captured while away
    log.keep(audio(960, 7));
    expect(log.rewind(3)).toBe(4); // frames 3.. (0-based): 4, 5, 6, 7
    expect(drain(log).map(tagOf)).toEqual([4, 5, 6, 7]);
    expect(log.sent).toBe(7);
    expect(log.dropped).toBe(0);
    // A count beyond what was ever sent cannot be: nothing goes again.
    expect(log.rewind(99)).toBe(0);
    expect(log.next()).toBeNull();
  });

  it("holds `resume_s` of audio: the oldest go first, counted when no connection carried them", () => {
    const log = new ResumeLog(1); // one second: 48,000 bytes
    const frame = 960; // 20 ms
    for (let i = 0; i < 50; i++) log.keep(audio(frame, i)); // exactly one second
    expect(log.kept).toBe(50);
    expect(log.dropped).toBe(0);
    log.keep(audio(frame, 50));
    log.keep(audio(frame, 51));
    expect(log.kept).toBe(50);
    expect(log.sent).toBe(52);
    expect(log.dropped).toBe(2); // frames 0 and 1, never sent
    // The gateway got none of them: what is left goes, and is numbered on from its count.
    expect(log.rewind(0)).toBe(50);
    expect(drain(log).map(tagOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    expect(log.sent).toBe(50); // as the gateway counts them now
    log.keep(audio(frame, 52));
    expect(log.rewind(50)).toBe(1);
    expect(drain(log).map(tagOf)).toEqual([52]);
  });

  it("counts frames carried, lost in flight, and let go before the resume asked for them", () => {
    const log = new ResumeLog(1);
    for (let i = 0; i < 50; i++) log.keep(audio(960, i));
    drain(log); // carried: 0..49
    for (let i = 50; i < 60; i++) log.keep(audio(960, i)); // kept while away: 0..9 let go (carried)
    expect(log.dropped).toBe(0);
    expect(log.rewind(5)).toBe(50); // the gateway had 0..4: 5..9 are gone
    expect(log.dropped).toBe(5);
    expect(drain(log).map(tagOf)).toEqual(Array.from({ length: 50 }, (_, i) => i + 10));
    expect(log.sent).toBe(55);
  });

  it("follows the session's window, and bounds JSON messages too", () => {
    const log = new ResumeLog();
    log.keep(audio(2 * AUDIO_BYTES_PER_S));
    log.keep(audio(2 * AUDIO_BYTES_PER_S));
    expect(log.kept).toBe(2);
    log.setWindow(3);
    expect(log.kept).toBe(1);
    for (let i = 0; i < MAX_MESSAGES + 10; i++) log.keep(`{"n":${i}}`);
    expect(log.kept).toBe(MAX_MESSAGES);
    expect(log.dropped).toBe(12); // both audio frames, then the ten oldest messages
  });

  it("keeps the newest frame, whatever its size", () => {
    const log = new ResumeLog(0.01);
    log.keep(audio(48_000, 1));
    log.keep(audio(48_000, 2));
    expect(drain(log).map(tagOf)).toEqual([2]);
  });

  it("starts over for a new session", () => {
    const log = new ResumeLog();
    log.countReceived();
    log.keep(audio(960));
    log.reset();
    expect([log.received, log.sent, log.kept, log.pending, log.dropped]).toEqual([0, 0, 0, 0, 0]);
  });
});
