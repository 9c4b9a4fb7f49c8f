/**
 * The libgpiod command-line tools' syntax, which differs between the two lines in the field
 * (sources: the tools' `--help` and man pages, gpioset(1), gpioget(1), gpiomon(1), gpiodetect(1),
 * of libgpiod 1.6.3 (Debian 12, Raspberry Pi OS bookworm) and of libgpiod 2.0 to 2.3, tools/*.c):
 *
 * | | 1.6 | 2.x |
 * |---|---|---|
 * | version | `gpioset (libgpiod) v1.6.3` | `gpioset (libgpiod) v2.1.3`; from 2.3 `gpioset v2.3 (libgpiod v2.3)` |
 * | chip | positional, first: `gpioset /dev/gpiochip0 17=1` | option: `gpioset -c /dev/gpiochip0 17=1` |
 * | hold an output | `--mode=signal`: until SIGTERM/SIGINT; prints nothing | holds by default until killed; `--banner` prints `Setting line '17'...` once the line is requested |
 * | read | `gpioget CHIP 17` prints `1` | `gpioget -c CHIP --numeric 17` prints `1` |
 * | monitor | `gpiomon -b -F '%o %e' CHIP 17`: `17 1` rising, `17 0` falling; `-b` line-buffers stdout (a pipe is block-buffered otherwise) | `gpiomon -c CHIP --banner -F '%o %E' 17`: `Monitoring line '17'...`, then `17 rising`/`17 falling` (flushed per event); from 2.3 `--initial-state --unquoted` first prints `17=active` or `17=inactive` |
 * | busy line | exits 1, stderr `…: Device or resource busy` | the same |
 * | chips | `gpiodetect`: `gpiochip0 [pinctrl-bcm2711] (58 lines)` | the same |
 *
 * Levels here are physical: no tool is given `-l/--active-low` (the port applies it).
 */

/** The libgpiod tools' major line, with what the installed tools can do. */
export interface GpiodToolsInfo {
  /** `1` (1.6 and older 1.x) or `2`. */
  major: 1 | 2;
  /** The full version as printed, e.g. `1.6.3`, `2.3`. */
  version: string;
  /** `gpiomon --initial-state` (2.3 and newer): the first level comes from the monitor itself. */
  initialState: boolean;
}

/** Parses `gpioset --version`'s first line; `undefined` for output that names no 1.x or 2.x. */
export function parseToolsVersion(output: string, gpiomonHelp = ""): GpiodToolsInfo | undefined {
  const m = /\bv(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return undefined;
  const major = Number(m[1]);
  if (major !== 1 && major !== 2) return undefined;
  return {
    major,
    version: m[0].slice(1),
    initialState: major === 2 && /--initial-state/.test(gpiomonHelp),
  };
}

/** `gpioset` holding one output at `high` until killed. */
export function gpiosetArgs(tools: GpiodToolsInfo, chip: string, line: number, high: boolean): string[] {
  const lv = `${line}=${high ? 1 : 0}`;
  return tools.major === 1 ? ["--mode=signal", chip, lv] : ["-c", chip, "-C", "smartbin", "--banner", lv];
}

/** `gpioget` reading one input once (it requests the line as an input, reads it and releases it). */
export function gpiogetArgs(tools: GpiodToolsInfo, chip: string, line: number): string[] {
  return tools.major === 1 ? [chip, String(line)] : ["-c", chip, "-C", "smartbin", "--numeric", String(line)];
}

/** `gpiomon` watching both edges of one input. */
export function gpiomonArgs(tools: GpiodToolsInfo, chip: string, line: number): string[] {
  if (tools.major === 1) return ["-b", "-F", "%o %e", chip, String(line)];
  const initial = tools.initialState ? ["--initial-state", "--unquoted"] : [];
  return ["-c", chip, "-C", "smartbin", "--banner", ...initial, "-F", "%o %E", String(line)];
}

/** What a line of gpiomon's stdout says. */
export type MonitorLine =
  | { kind: "banner" }
  | { kind: "level"; line: number; high: boolean }
  | { kind: "other"; text: string };

/**
 * One line of `gpiomon` output (formats above): an edge (`17 1`, `17 0`, `17 rising`,
 * `17 falling`: the level after the edge), the initial state (`17=active`, without `-l` that is
 * the physical level 1), or the banner.
 */
export function parseMonitorLine(text: string): MonitorLine {
  const t = text.trim();
  if (/^Monitoring lines? /.test(t)) return { kind: "banner" };
  let m = /^(\d+) (1|0|rising|falling)$/.exec(t);
  if (m) return { kind: "level", line: Number(m[1]), high: m[2] === "1" || m[2] === "rising" };
  m = /^"?(\d+)"?=(active|inactive|1|0)$/.exec(t);
  if (m) return { kind: "level", line: Number(m[1]), high: m[2] === "active" || m[2] === "1" };
  return { kind: "other", text: t };
}

/** `gpioget`'s output for one line: `1` or `0` (1.6, and 2.x with `--numeric`). */
export function parseGetOutput(output: string): boolean | undefined {
  const t = output.trim();
  if (t === "1" || t === "0") return t === "1";
  const m = /=(active|inactive)$/.exec(t);
  return m ? m[1] === "active" : undefined;
}

/** `gpiodetect` lines: `gpiochip0 [pinctrl-bcm2711] (58 lines)`. */
export function parseGpiodetect(output: string): Array<{ id: string; label: string; ngpio: number }> {
  const chips: Array<{ id: string; label: string; ngpio: number }> = [];
  for (const line of output.split("\n")) {
    const m = /^(gpiochip\d+) \[(.*)\] \((\d+) lines?\)\s*$/.exec(line.trim());
    if (m) chips.push({ id: m[1]!, label: m[2]!, ngpio: Number(m[3]) });
  }
  return chips;
}

/** True when a tool's stderr says the line is requested by someone else. */
export function isBusy(stderr: string): boolean {
  return /Device or resource busy|EBUSY/.test(stderr);
}

/**
 * `gpiomon` watching the falling edges of Wiegand data lines (D0, D1) with each event's kernel
 * timestamp, one process for the lines given (one stream, so its events come in order):
 * 1.6: `gpiomon -b -f -F '%o %s %n' CHIP 24 25` prints `24 1234 5678` (offset, seconds, then
 * nanoseconds printed with `%ld`, **not** zero-padded: `5678` is 0.000005678 s; gpiomon.c
 * event_print_custom); 2.x: `gpiomon -c CHIP --banner -e falling -F '%o %S' 24 25` prints
 * `24 1234.000005678` (`%S`: seconds, `.`, nine nanosecond digits; tools-common.c
 * print_event_time), on the monotonic clock by default (`--event-clock`).
 */
export function gpiomonEdgeArgs(tools: GpiodToolsInfo, chip: string, lines: readonly number[]): string[] {
  const offsets = lines.map(String);
  if (tools.major === 1) return ["-b", "-f", "-F", "%o %s %n", chip, ...offsets];
  return ["-c", chip, "-C", "smartbin", "--banner", "-e", "falling", "-F", "%o %S", ...offsets];
}

/** One timestamped edge line of {@link gpiomonEdgeArgs}' output: the line and microseconds. */
export type EdgeLine = { kind: "edge"; line: number; tUs: number } | { kind: "banner" } | { kind: "other"; text: string };

/**
 * Parses one line of {@link gpiomonEdgeArgs}' output (either version's format) into the line's
 * offset and the event time in microseconds (nanoseconds truncated; a Wiegand bit is ≥ 200 µs).
 */
export function parseEdgeLine(text: string): EdgeLine {
  const t = text.trim();
  if (/^Monitoring lines? /.test(t)) return { kind: "banner" };
  let m = /^(\d+) (\d+) (\d{1,9})$/.exec(t); // 1.6: offset, seconds, unpadded nanoseconds
  if (m) return { kind: "edge", line: Number(m[1]), tUs: Number(m[2]) * 1e6 + Math.floor(Number(m[3]) / 1000) };
  m = /^(\d+) (\d+)\.(\d{9})$/.exec(t); // 2.x: offset, seconds.nanoseconds
  if (m) return { kind: "edge", line: Number(m[1]), tUs: Number(m[2]) * 1e6 + Math.floor(Number(m[3]) / 1000) };
  return { kind: "other", text: t };
}
