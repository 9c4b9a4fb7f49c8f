import { fstatSync } from "node:fs";
import { createRootLogger } from "../adapters/log/logger.js";
import type { DemoProgress } from "../app/demo/demo.js";
import { maskCardId } from "../domain/privacy.js";
import { EXIT } from "./exit-codes.js";
import { PipeWriter } from "./pipe-writer.js";
import type { Signals } from "./signals.js";
import { StoryStream } from "./story-stream.js";

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
type Level = (typeof LEVELS)[number];

/** The levels at which the station's own log is quiet enough for an in-place progress line. */
const QUIET_LEVELS: readonly Level[] = ["fatal", "error", "warn", "silent"];

/** What goes where (contract.md section 1, `smartbin demo`). */
export interface DemoOutputs {
  /**
   * stdout: `json`, the CloudEvents lines (stdout is no terminal, or `--json`); `story`, the readable
   * account instead (stdout is a terminal other than stderr's); `none` (stdout is the very terminal
   * stderr is, which shows the account already: a terminal shows it once).
   */
  stdout: "json" | "story" | "none";
  /** stderr's progress line: redrawn in place on a terminal (`inline`), else a line after a silence. */
  progress: "inline" | "lines";
}

/**
 * Decides {@link DemoOutputs}. stderr always carries the broker line, the readable account, the
 * progress and the summary (issue 10, item 7); `stdout` follows the contract: JSON when piped or
 * with `--json`, "a readable account instead of JSON" when it is a terminal. `quietLog`: the log
 * level is warn or quieter (the station's info lines would break an in-place progress line).
 */
export function demoOutputs(o: { json: boolean; stdoutTTY: boolean; stderrTTY: boolean; sameTerminal: boolean; quietLog: boolean }): DemoOutputs {
  const stdout = o.json || !o.stdoutTTY ? "json" : o.sameTerminal ? "none" : "story";
  return { stdout, progress: o.stderrTTY && o.quietLog ? "inline" : "lines" };
}

/** The progress line's text after its time: "waiting for the next resident… (12 s left)". */
export function progressText(p: DemoProgress): string {
  if (p.ending) return "ending: waiting for the last events…";
  const what = p.atBins === null ? "waiting for the next resident…" : `${maskCardId(p.atBins)} is at the bins…`;
  return `${what} (${p.secondsLeft} s left)`;
}

/** True when fds 1 and 2 are open on the same terminal device (fstat(2): same `rdev`, a character device). */
function sameTerminal(): boolean {
  try {
    const out = fstatSync(1);
    const err = fstatSync(2);
    return out.isCharacterDevice() && err.isCharacterDevice() && out.rdev === err.rdev;
  } catch {
    return false;
  }
}

/** A listen error of the embedded broker as the rest of one stderr line, or `undefined` for any other error. */
function brokerListenError(e: unknown, port: number): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const where = `cannot start the embedded MQTT broker on 127.0.0.1:${port}`;
  if (code === "EADDRINUSE") return `${where}: the port is in use (choose another --mqtt-port, or 0 for a free one)`;
  if (code === "EACCES") return `${where}: permission denied (ports below 1024 need privileges)`;
  return undefined;
}

/**
 * `smartbin demo [--seconds N] [--mqtt-port N] [--json]`: stdout carries only the events a central
 * subscriber receives, one CloudEvents JSON document per line, unless it is a terminal (then the
 * readable account, see {@link demoOutputs}); stderr's first line names the embedded broker's URL,
 * then come the readable account (a line per identification, deposit and alarm), a progress line,
 * logs and the closing summary. Exits 0 at the end of its time, on SIGINT and on SIGTERM, on SIGHUP
 * (its terminal closed), and when the reader of its JSON or of its stderr goes away (`| head -1`,
`2>&1 | head`), removing its temporary folder in every case; SIGUSR1 is
 * ignored. Exit 1 when the broker's port cannot be bound.
 */
export async function runDemoCommand(opts: { seconds: number; mqttPort: number; json: boolean; logLevel: string; signals: Signals }): Promise<number> {
  const err = (line: string): void => void process.stderr.write(line + "\n");
  if (!(LEVELS as readonly string[]).includes(opts.logLevel)) {
    err(`smartbin demo: --log-level expects one of ${LEVELS.join(", ")}, found "${opts.logLevel}"`);
    return EXIT.USAGE;
  }
  const level = opts.logLevel as Level;
  const logger = createRootLogger({ level, fd: 2, name: "smartbin-demo" });
  // The handler stays for the whole run: a second Ctrl-C must not cut the closing summary short.
  let stop!: () => void;
  const interrupted = new Promise<void>((resolve) => (stop = resolve));
  opts.signals.claim((signal) => {
    if (signal !== "SIGUSR1") stop();
  });
  // A reader of stderr that goes away (`smartbin demo 2>&1 | head`) ends the demo as one of stdout
  // does: without this listener the EPIPE would crash it before it removes its temporary folder.
  const stderrGone = (error: Error): void => {
    if ((error as NodeJS.ErrnoException).code === "EPIPE") stop();
  };
  process.stderr.on("error", stderrGone);

  const same = sameTerminal();
  const outputs = demoOutputs({
    json: opts.json,
    stdoutTTY: process.stdout.isTTY === true,
    stderrTTY: process.stderr.isTTY === true,
    sameTerminal: same,
    quietLog: QUIET_LEVELS.includes(level),
  });
  const stderrStory = new StoryStream({
    write: (text) => void process.stderr.write(text),
    tty: outputs.progress === "inline",
    columns: () => process.stderr.columns,
  });
  const stdoutStory = outputs.stdout === "story" ? new StoryStream({ write: (text) => void process.stdout.write(text), tty: false }) : undefined;
  const json = outputs.stdout === "json" ? new PipeWriter(process.stdout) : undefined;
  const story = (line: string): void => {
    stderrStory.line(line);
    stdoutStory?.line(line);
  };

  try {
    const { runDemo } = await import("../app/demo/demo.js");
    const { formatSummary, localTime } = await import("../app/demo/story.js");
    const summary = await runDemo({
      seconds: opts.seconds,
      mqttPort: opts.mqttPort,
      logger,
      interrupted,
      onBroker: (url, topics) => err(`smartbin demo: embedded MQTT broker at ${url} (topics ${topics})`),
      onEvent: (payload) => {
        if (json === undefined) return;
        // A reader that went away (`smartbin demo | head -1`) ends the demo, as it ends `cat`.
        const write = () => void json.write(payload + "\n").then((written) => written || stop());
        if (same) stderrStory.interject(write);
        else write();
      },
      onStory: story,
      onProgress: (p) => {
        stderrStory.progress(`${localTime(Date.now())}  ${progressText(p)}`);
      },
      note: (line) => stderrStory.line(line),
    });
    stderrStory.clearProgress();
    for (const line of formatSummary(summary)) story(line);
    return EXIT.OK;
  } catch (error) {
    stderrStory.clearProgress();
    const listen = brokerListenError(error, opts.mqttPort);
    if (listen !== undefined) {
      err(`smartbin demo: ${listen}`);
      return EXIT.FAILURE;
    }
    logger.fatal({ err: error }, "demo failed");
    return EXIT.FAILURE;
  } finally {
    json?.release();
  }
}
