import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "pino";
import { SmartbinError } from "../../errors.js";
import { asError, openFailed, type DriverEvents, type DriverLines, type GpioDriver } from "./driver.js";
import type { GpioLineFailure } from "./gpio-port.js";
import {
  gpiogetArgs,
  gpiomonArgs,
  gpiomonEdgeArgs,
  gpiosetArgs,
  isBusy,
  parseGetOutput,
  parseGpiodetect,
  parseEdgeLine,
  parseMonitorLine,
  parseToolsVersion,
  type GpiodToolsInfo,
} from "./gpiod-tools.js";
import { parseChipChoice, pickChipByLabel } from "./header-chip.js";

/** Options of {@link GpiodDriver}. */
export interface GpiodDriverOptions {
  /** `gpio.chip`: `auto`, a label or `/dev/gpiochipN`. */
  chip: string;
  logger: Logger;
  /** Environment of the tools (PATH finds them); default `process.env`. Tests put fake tools first on PATH. */
  env?: NodeJS.ProcessEnv;
  /**
   * libgpiod 1.6's `gpioset --mode=signal` and `gpiomon` print nothing once the line is requested, so
   * a process still running this many milliseconds after its start counts as holding its line;
   * default 300. (2.x tools confirm with `--banner`.)
   */
  settleMs?: number;
  /** How long a tool may take to confirm (2.x banner) or to answer (`gpioget`); default 5000 ms. */
  toolTimeoutMs?: number;
}

const INSTALL_HINT = "Debian/Raspberry Pi OS: apt-get install gpiod";

/**
 * The `gpiod` backend: the GPIO character device (`/dev/gpiochipN`), which the Raspberry Pi 5 and
 * kernels without sysfs GPIO need, through the libgpiod command-line tools (syntax per version in
 * ./gpiod-tools.ts). Chosen over a Node binding because every binding of libgpiod on npm
 * (node-libgpiod and others) compiles C++ at install against libgpiod's headers, and a station
 * must install without a compiler; the tools are one apt package (`gpiod`) that Raspberry Pi OS
 * installs by default, and their version is detected at open (`gpioset --version`), so both 1.6
 * (Debian 12) and 2.x work.
 *
 * - The chip: `gpiodetect` lists chips with their labels; `auto` picks the Raspberry Pi header chip
 *   (./header-chip.ts); a `/dev/gpiochipN` is used as given.
 * - Each output is held by its own `gpioset` process (1.6 `--mode=signal`; 2.x holds by default).
 *   A change ends that process (SIGTERM: the tool releases the line) and starts a new one at the new
 *   level; between the two the kernel owns the line for a few milliseconds, and its level is not
 *   guaranteed (gpioset(1), "Note"): wire locks so that a glitch of milliseconds cannot open them
 *   (a relay or lock driver does not react that fast; see the README).
 * - Each input has its own `gpiomon` process on both edges; the level after each edge is reported.
 *   Its level at open comes from `gpiomon --initial-state` (2.3 and newer) or from a `gpioget` just
 *   before the monitor starts (1.6 to 2.2: an edge in the few milliseconds between the two is seen
 *   only at the next edge).
 * - Edge inputs (Wiegand D0/D1) share one `gpiomon` on falling edges that prints each event's kernel
 *   timestamp, delivered as `events.edge` in microseconds.
 * - A busy line (the tool exits with "Device or resource busy") is a failure of that line at
 *   open. A tool process that ends on its own later is an `error` event of its line.
 * - `close` ends every process (SIGTERM, then SIGKILL after 2 s) and waits for them.
 */
export class GpiodDriver implements GpioDriver {
  private tools: GpiodToolsInfo | undefined;
  private chipPath = "";
  private readonly outputs = new Map<number, OutputHolder>();
  private readonly monitors = new Map<number, Held>();
  private events: DriverEvents | undefined;
  private closed = false;
  /** The one `gpiomon` timing the edge inputs' falling edges (Wiegand data lines), when there are any. */
  private edgeMonitor: Held | undefined;
  readonly timesEdges = true;

  constructor(private readonly opts: GpiodDriverOptions) {}

  async open(lines: DriverLines, events: DriverEvents): Promise<Map<number, boolean>> {
    this.events = events;
    const tools = await this.detectTools();
    this.tools = tools;
    this.chipPath = await this.resolveChip();
    this.opts.logger.info({ chip: this.chipPath, libgpiod: tools.version }, "gpio character device chosen");
    const failures: GpioLineFailure[] = [];
    const initial = new Map<number, boolean>();
    await Promise.all(
      lines.outputs.map(async (o) => {
        const holder = new OutputHolder(this, o.line);
        try {
          await holder.start(o.high);
          this.outputs.set(o.line, holder);
        } catch (err) {
          failures.push({ line: o.line, name: o.name, error: asError(err) });
        }
      }),
    );
    await Promise.all(
      lines.inputs.map(async (i) => {
        try {
          const level = await this.startMonitor(i.line);
          initial.set(i.line, level);
        } catch (err) {
          failures.push({ line: i.line, name: i.name, error: asError(err) });
        }
      }),
    );
    const edgeInputs = lines.edgeInputs ?? [];
    if (edgeInputs.length > 0) {
      try {
        this.edgeMonitor = await this.startEdgeMonitor(edgeInputs.map((e) => e.line));
      } catch (err) {
        for (const e of edgeInputs) failures.push({ line: e.line, name: e.name, error: asError(err) });
      }
    }
    if (failures.length > 0) {
      await this.close();
      failures.sort((a, b) => a.line - b.line);
      throw openFailed("gpiod", failures);
    }
    return initial;
  }

  write(line: number, high: boolean): void {
    if (this.closed) return;
    this.outputs.get(line)?.set(high);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...[...this.outputs.values()].map((o) => o.stop()), ...[...this.monitors.values()].map((m) => m.stop())];
    if (this.edgeMonitor !== undefined) all.push(this.edgeMonitor.stop());
    this.edgeMonitor = undefined;
    this.outputs.clear();
    this.monitors.clear();
    await Promise.all(all);
  }

  /** @internal for {@link OutputHolder}: a line failed at run time. */
  lineError(line: number, error: Error): void {
    if (!this.closed) this.events?.error(line, error);
  }

  /** @internal starts the holding `gpioset` of an output. */
  startSet(line: number, high: boolean, onExit: (why: string) => void): Promise<Held> {
    const tools = this.tools!;
    return this.hold("gpioset", gpiosetArgs(tools, this.chipPath, line, high), line, {
      ready: tools.major === 2 ? (text) => /^Setting lines? /.test(text) : undefined,
      onExit,
    });
  }

  private async startMonitor(line: number): Promise<boolean> {
    const tools = this.tools!;
    let level: boolean | undefined;
    if (!tools.initialState) level = await this.getOnce(line);
    let monitoring = false;
    let sawInitial = false;
    const held = await this.hold("gpiomon", gpiomonArgs(tools, this.chipPath, line), line, {
      ready: tools.major === 2 ? (text) => parseMonitorLine(text).kind === "banner" : undefined,
      onLine: (text) => {
        const parsed = parseMonitorLine(text);
        if (parsed.kind !== "level" || parsed.line !== line) return;
        if (!monitoring) {
          level = parsed.high; // the initial state (2.3) or an edge before the banner
          sawInitial = true;
        } else this.events?.level(line, parsed.high);
      },
      onExit: (why) => this.lineError(line, new Error(`gpiomon for line ${line} ended: ${why}`)),
    });
    monitoring = true;
    this.monitors.set(line, held);
    if (level === undefined || (tools.initialState && !sawInitial)) {
      throw new Error(`gpiomon printed no initial state for line ${line}`);
    }
    return level;
  }

  /**
   * One `gpiomon` on the falling edges of `lines`, with kernel timestamps (./gpiod-tools.ts,
   * `gpiomonEdgeArgs`): one process, so the kernel's order of events across the lines is kept. Each
   * edge goes to `events.edge`; the process ending is an error of every one of its lines.
   */
  private startEdgeMonitor(lines: number[]): Promise<Held> {
    const tools = this.tools!;
    return this.hold("gpiomon", gpiomonEdgeArgs(tools, this.chipPath, lines), lines[0]!, {
      ready: tools.major === 2 ? (text) => parseEdgeLine(text).kind === "banner" : undefined,
      onLine: (text) => {
        const parsed = parseEdgeLine(text);
        if (parsed.kind === "edge" && lines.includes(parsed.line)) this.events?.edge?.(parsed.line, parsed.tUs);
      },
      onExit: (why) => {
        for (const line of lines) this.lineError(line, new Error(`gpiomon for lines ${lines.join(", ")} ended: ${why}`));
      },
    });
  }

  private async getOnce(line: number): Promise<boolean> {
    const r = await this.run("gpioget", gpiogetArgs(this.tools!, this.chipPath, line));
    if (r.code !== 0) throw lineToolError("gpioget", line, r.stderr, r.code);
    const level = parseGetOutput(r.stdout);
    if (level === undefined) throw new Error(`gpioget printed ${JSON.stringify(r.stdout.trim())} for line ${line}, not 0 or 1`);
    return level;
  }

  private async detectTools(): Promise<GpiodToolsInfo> {
    const version = await this.run("gpioset", ["--version"]);
    const help = await this.run("gpiomon", ["--help"]);
    const info = parseToolsVersion(version.stdout, help.stdout);
    if (version.code !== 0 || info === undefined) {
      throw new SmartbinError("GPIO_BACKEND_UNAVAILABLE", `gpio.backend gpiod: gpioset --version printed ${JSON.stringify(version.stdout.split("\n")[0])}: not libgpiod 1.x or 2.x`, {});
    }
    return info;
  }

  private async resolveChip(): Promise<string> {
    const choice = parseChipChoice(this.opts.chip);
    if (choice.kind === "dev") return choice.path;
    const r = await this.run("gpiodetect", []);
    const picked = pickChipByLabel(parseGpiodetect(r.stdout), choice);
    if ("problem" in picked) {
      const stderr = r.stderr.trim();
      throw new SmartbinError("GPIO_BACKEND_UNAVAILABLE", `${picked.problem}${stderr ? ` (gpiodetect: ${stderr})` : ""}`, { chip: this.opts.chip });
    }
    return `/dev/${picked.id}`;
  }

  /** Runs a tool to its end. A tool that is not installed is `GPIO_BACKEND_UNAVAILABLE`. */
  private run(tool: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(tool, args, { env: this.opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), this.opts.toolTimeoutMs ?? 5000);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(toolMissing(tool, err));
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /**
   * Starts a long-running tool for `line` and resolves once it holds the line: when `ready` matches
   * a stdout line, or (no `ready`: libgpiod 1.6) when it still runs `settleMs` after its start.
   * Rejects when it ends first (a busy line: its stderr says so).
   */
  private hold(
    tool: string,
    args: string[],
    line: number,
    hooks: { ready: ((text: string) => boolean) | undefined; onLine?: (text: string) => void; onExit: (why: string) => void },
  ): Promise<Held> {
    return new Promise((resolve, reject) => {
      const child = spawn(tool, args, { env: this.opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
      const held = new Held(child);
      let stderr = "";
      let settled = false;
      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          void held.stop();
          reject(err);
        } else resolve(held);
      };
      const timer = setTimeout(
        () => (hooks.ready ? done(new Error(`${tool} for line ${line} did not confirm within ${this.opts.toolTimeoutMs ?? 5000} ms`)) : done()),
        hooks.ready ? (this.opts.toolTimeoutMs ?? 5000) : (this.opts.settleMs ?? 300),
      );
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
      createInterface({ input: child.stdout }).on("line", (text) => {
        if (!settled && hooks.ready?.(text)) {
          done();
          return;
        }
        hooks.onLine?.(text);
      });
      child.on("error", (err) => done(toolMissing(tool, err)));
      child.on("exit", (code, signal) => {
        held.exited = true;
        if (!settled) {
          done(lineToolError(tool, line, stderr, code));
          return;
        }
        if (!held.stopping) hooks.onExit(`exit code ${code ?? signal}${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
      });
    });
  }
}

/** One running tool process. */
class Held {
  stopping = false;
  exited = false;
  private readonly exit: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    this.exit = new Promise((resolve) => {
      child.on("exit", () => resolve());
      child.on("error", () => resolve());
    });
  }

  /** Ends it (SIGTERM, SIGKILL after 2 s) and waits for its exit: its lines are released then. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited || this.child.pid === undefined) return;
    this.child.kill("SIGTERM");
    const kill = setTimeout(() => this.child.kill("SIGKILL"), 2000);
    await this.exit;
    clearTimeout(kill);
  }
}

/**
 * One output line's `gpioset`: a change ends the process and starts one at the new level. Changes
 * are applied in order, one restart at a time; while one is under way only the newest level waits.
 */
class OutputHolder {
  private held: Held | undefined;
  private wanted: boolean | undefined;
  private applying: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly driver: GpiodDriver,
    private readonly line: number,
  ) {}

  async start(high: boolean): Promise<void> {
    this.held = await this.driver.startSet(this.line, high, (why) => this.onExit(why));
  }

  set(high: boolean): void {
    if (this.stopped) return;
    this.wanted = high;
    this.applying ??= this.apply().finally(() => (this.applying = undefined));
  }

  /** Waits for a restart under way, then ends the process: nothing holds the line afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wanted = undefined;
    await this.applying;
    await this.held?.stop();
  }

  private async apply(): Promise<void> {
    while (this.wanted !== undefined && !this.stopped) {
      const high = this.wanted;
      this.wanted = undefined;
      await this.held?.stop();
      this.held = undefined;
      try {
        this.held = await this.driver.startSet(this.line, high, (why) => this.onExit(why));
      } catch (err) {
        this.driver.lineError(this.line, asError(err));
      }
    }
  }

  private onExit(why: string): void {
    this.held = undefined;
    this.driver.lineError(this.line, new Error(`gpioset for line ${this.line} ended: ${why}`));
  }
}

function toolMissing(tool: string, err: unknown): Error {
  const e = asError(err) as NodeJS.ErrnoException;
  if (e.code === "ENOENT") {
    return new SmartbinError("GPIO_BACKEND_UNAVAILABLE", `gpio.backend gpiod needs the libgpiod tools (gpioset, gpioget, gpiomon, gpiodetect); ${tool} is not installed (${INSTALL_HINT})`, { tool });
  }
  return new SmartbinError("GPIO_BACKEND_UNAVAILABLE", `gpio.backend gpiod: ${tool} cannot be started: ${e.message}`, { tool }, { cause: err });
}

function lineToolError(tool: string, line: number, stderr: string, code: number | null): Error {
  const text = stderr.trim().split("\n").pop() ?? "";
  if (isBusy(stderr)) return Object.assign(new Error(`line ${line} is busy (another process or driver holds it): ${text}`), { code: "EBUSY" });
  return new Error(`${tool} for line ${line} failed (exit code ${code ?? "?"})${text ? `: ${text}` : ""}`);
}
