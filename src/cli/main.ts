import { createRequire } from "node:module";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { configFileArgument, runConfigCheck, runConfigSchema, resolveConfigPath } from "./config-commands.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";
import type { SimulateLevelArgs, SimulateReaderArgs, SimulateScaleArgs, SimulateSetup } from "./simulate.js";

/** A day: the demo's longest run (and far below Node's timer limit). */
const MAX_DEMO_SECONDS = 86_400;

/**
 * What `--version` prints: `smartbin-edge 0.3.0 (Node 24.22.3)`, the product and the Node that runs it
 * (package.json sits two folders up from both src/cli and dist/cli). The launcher answers a bare
 * `--version` itself, in the same form, before anything is loaded.
 */
function versionLine(): string {
  const pkg = createRequire(import.meta.url)("../../package.json") as { name: string; version: string };
  return `${pkg.name} ${pkg.version} (Node ${process.versions.node})`;
}

/** Writes one line to stdout / stderr. */
const out = (line: string): void => void process.stdout.write(line + "\n");
const err = (line: string): void => void process.stderr.write(line + "\n");

/** `--since SEQ`: a whole number; anything else is a usage error (exit 2). */
function parseSeq(value: string): number {
  const seq = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(seq)) throw new InvalidArgumentError("expected a whole number (a seq).");
  return seq;
}

/** `--mqtt-port N`: a TCP port, 0 to 65535 (0: a free one); anything else is a usage error (exit 2). */
function parseDemoPort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65_535)) throw new InvalidArgumentError("expected a TCP port from 0 to 65535 (0: a free port).");
  return port;
}

/**
 * Builds the `smartbin` command tree (contract.md section 1). Each action stores its exit code in
 * `result.code`; commander's own usage errors become exit 2, `--help` exit 0.
 */
function buildProgram(result: { code: number }, signals: Signals): Command {
  const program = new Command("smartbin")
    .description("smartbin-edge: the controller of a smart garbage-sorting station")
    .version(versionLine(), "-V, --version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError("(smartbin --help lists the commands)");
  const configOption = () =>
    new Option("-c, --config <file>", "config file (else $SMARTBIN_CONFIG, else /etc/smartbin/config.yaml)");
  const configArgument = "[file]";
  const configArgumentText = "the config file, as with -c";
  /**
   * The config file of a command that takes it as `-c FILE` or as a positional `FILE` (issue 10:
   * `config check FILE` said "too many arguments"); `undefined` after a usage error (exit 2).
   */
  const configPath = (positional: string | undefined, opts: { config?: string }, command: string): string | undefined => {
    const given = configFileArgument(positional, opts.config);
    if (given.error !== undefined) {
      err(`smartbin ${command}: ${given.error}`);
      result.code = EXIT.USAGE;
      return undefined;
    }
    return resolveConfigPath(given.file);
  };

  program
    .command("run")
    .description("run the station daemon")
    .argument(configArgument, configArgumentText)
    .addOption(configOption())
    .option("--pretty", "readable log lines instead of JSON (for a terminal; journald wants JSON)")
    // Tests only: the sysfs and /dev tree where devices configured by `usb` are looked for (default /).
    .addOption(new Option("--sysfs-root <dir>").hideHelp())
    .action(async (file: string | undefined, opts: { config?: string; pretty?: boolean; sysfsRoot?: string }) => {
      const configFile = configPath(file, opts, "run");
      if (configFile === undefined) return;
      // Loaded on demand: `config check` should not pay for serialport, MQTT.js and SQLite.
      const { runDaemon } = await import("./run.js");
      result.code = await runDaemon(configFile, signals, { pretty: opts.pretty === true, ...(opts.sysfsRoot !== undefined ? { sysfsRoot: opts.sysfsRoot } : {}) });
    });

  program
    .command("demo")
    .description("run the whole station on simulated devices and an embedded broker; events on stdout, a readable account in a terminal")
    .option("--seconds <n>", "how long to run, in seconds", "30")
    .addOption(
      new Option("--mqtt-port <n>", "port of the embedded MQTT broker on 127.0.0.1 (0: a free port)").default(0).argParser(parseDemoPort),
    )
    .option("--json", "CloudEvents JSON lines on stdout even when it is a terminal")
    .option("--log-level <level>", "log level on stderr (info shows every step)", "warn")
    .action(async (opts: { seconds: string; mqttPort: number; json?: boolean; logLevel: string }) => {
      const seconds = Number(opts.seconds);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_DEMO_SECONDS) {
        err(`smartbin demo: --seconds expects a number from 1 to ${MAX_DEMO_SECONDS}, found "${opts.seconds}"`);
        result.code = EXIT.USAGE;
        return;
      }
      const { runDemoCommand } = await import("./demo.js");
      result.code = await runDemoCommand({ seconds, mqttPort: opts.mqttPort, json: opts.json === true, logLevel: opts.logLevel, signals });
    });

  const config = program.command("config").description("check the config file or print its JSON Schema");
  config
    .command("check")
    .description("validate the config file; every problem as FILE:LINE:COL: path: message")
    .argument(configArgument, configArgumentText)
    .addOption(configOption())
    .action((file: string | undefined, opts: { config?: string }) => {
      const configFile = configPath(file, opts, "config check");
      if (configFile !== undefined) result.code = runConfigCheck(configFile, out);
    });
  config
    .command("schema")
    .description("print the JSON Schema (draft 2020-12) of the config file")
    .action(() => {
      result.code = runConfigSchema(out);
    });

  const outbox = program.command("outbox").description("inspect the event outbox");
  outbox
    .command("status")
    .description("pending and published events, oldest pending age, last seq")
    .argument(configArgument, configArgumentText)
    .addOption(configOption())
    .option("--json", "one JSON object on stdout")
    .action(async (file: string | undefined, opts: { config?: string; json?: boolean }) => {
      const configFile = configPath(file, opts, "outbox status");
      if (configFile === undefined) return;
      const { runOutboxStatusCommand } = await import("./outbox-status.js");
      result.code = runOutboxStatusCommand(configFile, opts.json === true, out, err);
    });
  outbox
    .command("list")
    .description("the events held in the database, oldest first, one line each")
    .argument(configArgument, configArgumentText)
    .addOption(configOption())
    .option("--pending", "only events not yet acknowledged by the broker")
    .addOption(new Option("--since <seq>", "only events from this seq on (inclusive)").argParser(parseSeq))
    .option("--json", "each event's CloudEvents JSON exactly as it is sent, one per line")
    .action(async (file: string | undefined, opts: { config?: string; pending?: boolean; since?: number; json?: boolean }) => {
      const configFile = configPath(file, opts, "outbox list");
      if (configFile === undefined) return;
      const { runOutboxListCommand } = await import("./outbox-list.js");
      const list = { pendingOnly: opts.pending === true, json: opts.json === true, ...(opts.since !== undefined ? { sinceSeq: opts.since } : {}) };
      result.code = await runOutboxListCommand(configFile, list, process.stdout, err);
    });
  outbox
    .command("export")
    .description("write every held event, as JSON lines, to FILE")
    .argument("<file>", "the file to write; an existing one is refused without --force")
    .addOption(configOption())
    .option("--force", "overwrite an existing FILE")
    .action(async (file: string, opts: { config?: string; force?: boolean }) => {
      const { runOutboxExportCommand } = await import("./outbox-export.js");
      result.code = runOutboxExportCommand(resolveConfigPath(opts.config), file, opts.force === true, err);
    });

  program
    .command("doctor")
    .description("check config, serial ports, GPIO, broker and TLS files, clock, disk and database; one line each")
    .argument(configArgument, configArgumentText)
    .addOption(configOption())
    .option("--json", "one JSON object on stdout")
    .action(async (file: string | undefined, opts: { config?: string; json?: boolean }) => {
      const configFile = configPath(file, opts, "doctor");
      if (configFile === undefined) return;
      const { runDoctorCommand } = await import("./doctor.js");
      result.code = await runDoctorCommand(configFile, { json: opts.json === true }, out);
    });

  program
    .command("monitor")
    .description("show each device's readings, stability, cards and discarded bytes live, for commissioning")
    .argument("[device...]", "ids of the scales, readers and level sensors to show (default: all)")
    .addOption(configOption())
    .action(async (devices: string[], opts: { config?: string }) => {
      const { runMonitorCommand } = await import("./monitor.js");
      result.code = await runMonitorCommand(resolveConfigPath(opts.config), devices, signals);
    });

  program
    .command("ports")
    .description("list serial ports with their /dev/serial/by-id names and USB identity (no udevadm needed); with -c, which device uses each")
    .addOption(configOption())
    .option("--json", "one JSON object on stdout")
    // For tests: read <dir>/sys and <dir>/dev instead of /sys and /dev (a fake tree).
    .addOption(new Option("--root <dir>").hideHelp())
    .action(async (opts: { config?: string; json?: boolean; root?: string }) => {
      const { runPortsCommand } = await import("./ports.js");
      result.code = runPortsCommand(
        { json: opts.json === true, ...(opts.config !== undefined ? { configFile: opts.config } : {}), ...(opts.root !== undefined ? { root: opts.root } : {}) },
        out,
        err,
      );
    });

  const simulate = program
    .command("simulate")
    .description("play a scale, a card reader or a fill-level sensor on a serial port (the other end of a socat pair, or an adapter wired to the station), for bench tests");
  /** Plays a parsed `simulate` setup, or reports its usage mistake (exit 2). */
  const playSimulated = async (kind: string, setup: SimulateSetup | { usage: string }): Promise<void> => {
    if ("usage" in setup) {
      err(`smartbin simulate ${kind}: ${setup.usage}`);
      result.code = EXIT.USAGE;
      return;
    }
    const { runSimulate } = await import("./simulate.js");
    result.code = await runSimulate(setup, kind, signals, err);
  };
  const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
  const simulateCommon = (c: Command): Command =>
    c
      .requiredOption("--port <path>", "the serial port to play on")
      .requiredOption("--protocol <name>", "the device's protocol (as in the config)")
      .option("--baud <n>", "baud rate (default: the protocol's)")
      .option("--option <key=value>", "a protocol option, as in the config (repeatable)", collect);
  simulateCommon(simulate.command("scale").description("play a weighing indicator: steady weight, noise, ramps"))
    .option("--weight <g>", "steady weight in grams (default 0)")
    .option("--noise <g>", "each frame's weight moves by up to ± this many grams")
    .option("--ramp <from:to:seconds>", "from one weight to another (grams) in so many seconds, then steady")
    .option("--period <ms>", "frame interval in ms (default 100)")
    .option("--unit <unit>", "the display unit, for protocols with a unit option (g, kg, lb)")
    .option("--decimals <n>", "digits after the decimal point the display shows (default 2)")
    .action(async (opts: SimulateScaleArgs) => {
      const { parseSimulateScale } = await import("./simulate.js");
      await playSimulated("scale", parseSimulateScale(opts));
    });
  simulateCommon(simulate.command("reader").description("play a card reader: cards presented in turn"))
    .option("--card <id>", "an identifier to present (repeatable; em4100-ascii: the tag's 10 hex characters)", collect)
    .option("--every <s>", "present the next card every so many seconds (default 5)")
    .option("--hold <s>", "how long each card stays in the field, in seconds (default 1)")
    .action(async (opts: SimulateReaderArgs) => {
      const { parseSimulateReader } = await import("./simulate.js");
      await playSimulated("reader", parseSimulateReader(opts));
    });
  simulateCommon(simulate.command("level").description("play a fill-level sensor: a steady distance, noise, a bin filling up"))
    .option("--distance-mm <mm>", "steady distance in millimetres")
    .option("--ramp <from:to:seconds>", "from one distance to another (mm) in so many seconds, then steady")
    .option("--noise <mm>", "each reading moves by up to ± this many millimetres")
    .option("--strength <n>", "signal strength sent, for tf-luna (default 1000)")
    .option("--period <ms>", "reading interval in ms (default 100)")
    .action(async (opts: SimulateLevelArgs) => {
      const { parseSimulateLevel } = await import("./simulate.js");
      await playSimulated("level", parseSimulateLevel(opts));
    });

  return program;
}

/**
 * Runs `smartbin` with `argv` (without node and script) and the signals the launcher has caught
 * since its first line. Resolves to the exit code: 0 success, 1 runtime failure, 2 usage error,
 * 78 invalid or missing configuration.
 */
export async function main(argv: string[], signals: Signals): Promise<number> {
  const result = { code: EXIT.OK as number };
  const program = buildProgram(result, signals);
  try {
    await program.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help, -V and `help` exit 0; help shown because a subcommand is missing is a usage error.
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT.OK;
      if (e.code === "commander.help" && e.exitCode === 0) return EXIT.OK;
      return EXIT.USAGE;
    }
    err(`smartbin: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.FAILURE;
  }
}
