import { describe, expect, it } from "vitest";
import { demoOutputs, progressText } from "../../src/cli/demo.js";
import { StoryStream } from "../../src/cli/story-stream.js";

const ERASE = "\r\x1b[2K";

function stream(tty: boolean, columns?: number) {
  const written: string[] = [];
  let now = 0;
  const s = new StoryStream({ write: (t) => void written.push(t), tty, columns: () => columns, quietMs: 4_000, now: () => now });
  return { s, written, text: () => written.join(""), advance: (ms: number) => (now += ms) };
}

describe("StoryStream on a terminal", () => {
  it("draws the progress line in place and keeps it below each account line", () => {
    const t = stream(true);
    t.s.progress("waiting… (3 s left)");
    t.s.progress("waiting… (3 s left)"); // unchanged: not redrawn
    t.s.progress("waiting… (2 s left)");
    t.s.line("14:00:01  deposit     1.250 kg");
    expect(t.written).toEqual([
      `${ERASE}waiting… (3 s left)`,
      `${ERASE}waiting… (2 s left)`,
      `${ERASE}14:00:01  deposit     1.250 kg\nwaiting… (2 s left)`,
    ]);
    t.s.clearProgress();
    t.s.line("demo summary");
    expect(t.written.slice(3)).toEqual([ERASE, "demo summary\n"]);
  });

  it("cuts the progress line to the terminal's width, so that it never wraps", () => {
    const t = stream(true, 12);
    t.s.progress("waiting for the next resident");
    expect(t.text()).toBe(`${ERASE}waiting fo…`);
    expect([...t.text().slice(ERASE.length)].length).toBe(11);
  });

  it("interject: another stream's lines go between an erased and a redrawn progress line", () => {
    const t = stream(true);
    t.s.interject(() => t.written.push("{json}\n"));
    t.s.progress("waiting…");
    t.s.interject(() => t.written.push("{json}\n"));
    expect(t.written).toEqual(["{json}\n", `${ERASE}waiting…`, ERASE, "{json}\n", "waiting…"]);
  });
});

describe("StoryStream elsewhere (a file, a pipe)", () => {
  it("never writes a carriage return; a progress line only after 4 s without output", () => {
    const t = stream(false);
    t.s.progress("waiting (30 s left)");
    t.advance(3_999);
    t.s.progress("waiting (27 s left)");
    t.advance(1);
    t.s.progress("waiting (26 s left)");
    t.advance(1_000);
    t.s.progress("waiting (25 s left)");
    t.s.line("14:00:10  deposit");
    t.advance(3_000);
    t.s.progress("waiting (22 s left)");
    t.s.clearProgress();
    expect(t.written).toEqual(["waiting (26 s left)\n", "14:00:10  deposit\n"]);
    expect(t.text()).not.toContain("\r");
  });
});

describe("what goes where (contract section 1)", () => {
  const base = { json: false, stdoutTTY: false, stderrTTY: false, sameTerminal: false, quietLog: true };
  it.each([
    ["piped stdout: JSON", base, { stdout: "json", progress: "lines" }],
    ["stdout a terminal, stderr the same one: the account once, on stderr", { ...base, stdoutTTY: true, stderrTTY: true, sameTerminal: true }, { stdout: "none", progress: "inline" }],
    ["stdout a terminal, stderr elsewhere: the account on stdout too", { ...base, stdoutTTY: true }, { stdout: "story", progress: "lines" }],
    ["--json on a terminal: JSON", { ...base, json: true, stdoutTTY: true, stderrTTY: true, sameTerminal: true }, { stdout: "json", progress: "inline" }],
    ["--log-level info on a terminal: progress as lines", { ...base, stdoutTTY: true, stderrTTY: true, sameTerminal: true, quietLog: false }, { stdout: "none", progress: "lines" }],
  ])("%s", (_name, input, expected) => {
    expect(demoOutputs(input)).toEqual(expected);
  });

  it("progress text: waiting, a resident at the bins (card masked), ending", () => {
    expect(progressText({ secondsLeft: 12, atBins: null, ending: false })).toBe("waiting for the next resident… (12 s left)");
    expect(progressText({ secondsLeft: 1, atBins: "0008844356", ending: false })).toBe("******4356 is at the bins… (1 s left)");
    expect(progressText({ secondsLeft: 0, atBins: null, ending: true })).toBe("ending: waiting for the last events…");
  });
});
