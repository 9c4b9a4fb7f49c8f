import { spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import mqtt from "mqtt";
import { beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { findTool, requireTools } from "../support/require-tool.js";

/**
 * `smartbin demo` as a new user sees it (issue 10, item 7; contract.md section 1): in a terminal,
 * under a pseudo-terminal made by util-linux's `script` (Debian's essential bsdutils package), and
 * with a central subscriber of our own on the broker port we choose. Runs are kept short with
 * `--seconds`: the first resident identifies after 1 s, drops a bag into the recyclables bin and
 * one through the kitchen bin's door (button, unlock, open, close); its deposits come about 6 s
 * after start, the second resident's (below the food-waste minimum, through the door too) when the
 * demo closes its session at the end.
 */
beforeAll(() => buildOnce(), 120_000);

const BROKER_LINE = /^smartbin demo: embedded MQTT broker at mqtt:\/\/127\.0\.0\.1:(\d+) \(topics smartbin\/demo-station\/#\)$/;
const TIME = String.raw`\d\d:\d\d:\d\d`;

/** The lines of a terminal transcript as they end up on screen: CRLF ends a line, a line redrawn in place keeps its last text. */
function screenLines(transcript: string): string[] {
  return transcript
    .replaceAll("\r\n", "\n")
    .split("\n")
    .map((line) => {
      const parts = line.split("\r\x1b[2K");
      return parts[parts.length - 1]!;
    });
}

/** Runs `smartbin ARGS` with its stdout and stderr on one pseudo-terminal; resolves to the transcript and exit code. */
function inTerminal(args: string[], opts: { ctrlCAfter?: RegExp } = {}): Promise<{ code: number | null; transcript: string }> {
  // `exec`: the shell that `script` starts ($SHELL, or dash as /bin/sh when SHELL is unset, as under
  // CI) must not stay between: dash does not exec a lone command, and Ctrl-C's SIGINT, sent to the
  // whole foreground group, killed it, so `script` said 130 for a demo that had exited 0.
  const command = ["exec", ...[process.execPath, SMARTBIN, ...args].map((a) => `'${a}'`)].join(" ");
  // -q: no "Script started" banner; -f: flush as it comes; -e: exit with the child's code; -c: run this.
  const child = spawn(findTool("script")!, ["-qfec", command, "/dev/null"], { cwd: ROOT, stdio: "pipe" });
  let transcript = "";
  let sent = false;
  child.stdout.on("data", (b: Buffer) => {
    transcript += b.toString("utf8");
    if (opts.ctrlCAfter && !sent && opts.ctrlCAfter.test(transcript)) {
      sent = true;
      // What Ctrl-C types: the terminal's line discipline turns it into SIGINT for the demo.
      child.stdin.write("\x03");
    }
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, transcript })));
}

/** A port that was free a moment ago (the kernel's pick, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const tools = requireTools(["script"]);

describe.skipIf(tools.skip)(`smartbin demo in a terminal${tools.reason}`, () => {
  it("tells a readable story on the terminal: broker URL first, a line per identification, door change and deposit, progress, plurals, why 0 points, a summary table, no JSON", async () => {
    const { code, transcript } = await inTerminal(["demo", "--seconds", "14"]);
    expect(code).toBe(0);
    const lines = screenLines(transcript);
    expect(lines[0]).toMatch(BROKER_LINE);
    const first = lines.findIndex((l) =>
      new RegExp(`^${TIME}  identified  \\*{6}4356 at reader-card \\(bins open: kitchen, recycle, residual; the door of kitchen opens with its button\\)$`).test(l),
    );
    expect(first, `no identification line of the first resident with every bin open in:\n${transcript}`).toBeGreaterThan(0);
    // The door's lines follow, in the order they happen at the door, before the deposits.
    const door = lines.slice(first + 1).filter((l) => l.includes("  door  ")).slice(0, 3);
    expect(door.map((l) => l.slice(10))).toEqual(["door        of kitchen unlocked", "door        of kitchen opened", "door        of kitchen closed and locked"]);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${TIME}  deposit     1\\.2\\d\\d kg of food_waste into kitchen by \\*{6}4356: 2 points \\(2 per kg\\)$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${TIME}  deposit     0\\.9\\d\\d kg of recyclable into recycle by \\*{6}4356: 1 point \\(1\\.16 per kg\\)$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${TIME}  identified  \\*{6}4242 at reader-qr`)));
    expect(lines).toContainEqual(expect.stringMatching(/: 0 points: below the minimum of 200 g for food_waste$/));
    // The progress line is redrawn in place while the demo waits.
    expect(transcript).toMatch(new RegExp(`\\r\\x1b\\[2K${TIME}  waiting for the next resident… \\(\\d+ s left\\)`));
    expect(transcript).toMatch(/\r\x1b\[2K\d\d:\d\d:\d\d {2}\*{6}4356 is at the bins… \(\d+ s left\)/);
    const summary = lines.findIndex((l) => l.startsWith("demo summary: "));
    expect(lines[summary]).toBe("demo summary: 3 deposits, 3 points, 0 collections, 0 alarms, 3 events");
    expect(lines[summary + 1]).toMatch(/^ {2}category +deposits +kg +points$/);
    expect(lines[summary + 2]).toMatch(/^ {2}food_waste +2 +1\.\d{3} +2$/);
    expect(lines[summary + 3]).toMatch(/^ {2}recyclable +1 +0\.9\d\d +1$/);
    expect(lines[summary + 4]).toMatch(/^ {2}total +3 +2\.\d{3} +3$/);
    expect(transcript).not.toContain("{");
    expect(transcript).not.toMatch(/\(awarded\)|\b1 points\b|\b1 deposits\b/);
  }, 40_000);

  it("--json on a terminal: the CloudEvents lines, each whole on a line of its own, between the story's lines", async () => {
    const { code, transcript } = await inTerminal(["demo", "--seconds", "5", "--json"]);
    expect(code).toBe(0);
    const lines = screenLines(transcript);
    expect(lines[0]).toMatch(BROKER_LINE);
    const events = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { specversion: string; type: string; data: { seq: number } });
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.specversion === "1.0")).toBe(true);
    expect(events.map((e) => e.data.seq)).toEqual(events.map((_, i) => i + 1));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${TIME}  deposit     `)));
  }, 30_000);

  it("Ctrl-C: the story ends with what happened so far and the summary, exit 0", async () => {
    const { code, transcript } = await inTerminal(["demo", "--seconds", "60"], { ctrlCAfter: /deposit {5}0\.9\d\d kg of recyclable/ });
    // The transcript goes with a failure.
    expect(code, `exit ${code}; the terminal showed:\n${transcript}`).toBe(0);
    const lines = screenLines(transcript);
    expect(lines).toContainEqual(expect.stringMatching(/^demo: interrupted(: closing the open session)?$/));
    expect(lines).toContainEqual(expect.stringMatching(/^demo summary: [2-9] deposits, [3-9] points, /));
  }, 30_000);
});

describe("smartbin demo --mqtt-port", () => {
  it("serves the station's topics on the chosen port: a subscriber there receives the events stdout carries", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [SMARTBIN, "demo", "--seconds", "14", "--mqtt-port", String(port)], { cwd: ROOT, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
    const firstLine = new Promise<string>((resolve) => {
      child.stderr.on("data", (b: Buffer) => {
        stderr += b.toString("utf8");
        if (stderr.includes("\n")) resolve(stderr.slice(0, stderr.indexOf("\n")));
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));

    expect(await firstLine).toBe(`smartbin demo: embedded MQTT broker at mqtt://127.0.0.1:${port} (topics smartbin/demo-station/#)`);
    const received: Array<{ topic: string; payload: string }> = [];
    const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    subscriber.on("message", (topic, payload) => received.push({ topic, payload: payload.toString("utf8") }));
    await subscriber.subscribeAsync("smartbin/demo-station/#", { qos: 1 });
    expect(await exited).toBe(0);
    await subscriber.endAsync(true);

    const lines = stdout.trim().split("\n");
    const events = lines.map((l) => JSON.parse(l) as { specversion: string; id: string; source: string; type: string; data: { seq: number } });
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const e of events) expect(e).toMatchObject({ specversion: "1.0", source: "smartbin/demo-station", datacontenttype: "application/json" });
    // The same bytes reached our subscriber, on the contract's topics.
    const ours = received.filter((m) => m.topic.startsWith("smartbin/demo-station/events/"));
    expect(new Set(ours.map((m) => m.payload))).toEqual(new Set(lines));
    expect(ours.map((m) => m.topic)).toContain("smartbin/demo-station/events/deposit");
    expect(received.some((m) => m.topic === "smartbin/demo-station/status")).toBe(true);
  }, 30_000);

  it("a value that is no port is a usage error (exit 2); a port in use is one line and exit 1", async () => {
    for (const bad of ["-1", "65536", "1.5", "http", ""]) {
      const r = spawnSync(process.execPath, [SMARTBIN, "demo", "--mqtt-port", bad, "--seconds", "1"], { cwd: ROOT, encoding: "utf8" });
      expect(r.status, `--mqtt-port ${JSON.stringify(bad)}`).toBe(2);
      expect(r.stderr).toContain("--mqtt-port");
      expect(r.stdout).toBe("");
    }
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const child = spawn(process.execPath, [SMARTBIN, "demo", "--mqtt-port", String(port), "--seconds", "1"], { cwd: ROOT, stdio: "pipe" });
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code).toBe(1);
      expect(stderr).toBe(
        `smartbin demo: cannot start the embedded MQTT broker on 127.0.0.1:${port}: the port is in use (choose another --mqtt-port, or 0 for a free one)\n`,
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 30_000);
});
