/**
 * `smartbin monitor`'s text: one line per device from its {@link MonitorView}, which devices to
 * monitor from the config and the command's DEVICE names, and when a piped line is worth printing.
 * Pure: no terminal, no clock.
 */
import type { Config } from "../../config/schema.js";
import { contextFromConfig } from "../station-context.js";
import type { LevelView, MonitoredDevice, MonitorView, ReaderView, ScaleView } from "./device-monitor.js";

/**
 * The devices to monitor: every scale, reader and level sensor of `config`, in the file's order, or those whose
 * id is among `names` (an id shared by a scale and a reader selects both). `unknown` lists the names
 * that are no device's id, with every known id, for the usage error.
 */
export function selectDevices(
  config: Readonly<Config>,
  names: readonly string[],
): { ok: true; devices: MonitoredDevice[] } | { ok: false; unknown: string[]; known: string[] } {
  const context = contextFromConfig(config);
  const all: MonitoredDevice[] = [
    ...config.scales.map((item, i) => ({ kind: "scale" as const, item, spec: context.scales[i]! })),
    ...config.readers.map((item, i) => ({ kind: "reader" as const, item, spec: context.readers[i]! })),
    ...config.level_sensors.map((item, i) => ({ kind: "level" as const, item, spec: context.levelSensors![i]! })),
  ];
  const known = [...new Set(all.map((d) => d.item.id))];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) return { ok: false, unknown, known };
  return { ok: true, devices: names.length === 0 ? all : all.filter((d) => names.includes(d.item.id)) };
}

/** Grams in the scale's unit as an indicator would show them: kg with 3 decimals, lb with 2, g whole. */
export function shownWeight(grams: number, unit: "g" | "kg" | "lb"): string {
  switch (unit) {
    case "g":
      return `${grams} g`;
    case "kg":
      return `${(grams / 1000).toFixed(3)} kg`;
    case "lb":
      return `${(grams / 453.59237).toFixed(2)} lb`;
  }
}

/** Control characters (a card id read from a text-mode reader may hold any) shown as `?`. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

function head(view: MonitorView): string {
  // A reader on GPIO lines (wiegand) is shown by its D0/D1 lines.
  const at = view.kind === "reader" && view.lines !== undefined ? `gpio${view.lines[0]}/${view.lines[1]}` : String(view.baudRate);
  return `${view.id} ${view.protocol}@${at}:`;
}

function counts(view: MonitorView): string {
  const c = view.counts;
  let text = `${c.valid} valid, ${c.discarded} discarded (${c.discardedBytes} B)`;
  if (c.lastDiscarded !== null) {
    const more = c.lastDiscarded.length > c.lastDiscarded.hex.split(" ").length ? " …" : "";
    text += `, last discarded [${c.lastDiscarded.hex}${more}] ${printable(c.lastDiscarded.reason)}`;
  }
  return text;
}

/** The part before the readings: the port's state, or the hint, when they say more than readings would. */
function preamble(view: MonitorView): string | null {
  if (view.port.state === "offline") return `offline: ${printable(view.port.reason)} (retrying)`;
  if (view.counts.bytes === 0) return view.port.state === "open" ? "port open, no bytes yet" : "opening the port";
  // "Not one valid frame", not "all discarded": bytes the framer still holds (no header, no end yet)
  // are not counted as discarded frames, and the counts after this say so.
  if (view.hint !== null) return `${view.counts.bytes} B, not one valid frame; ${view.hint}`;
  if (view.counts.valid === 0) return `${view.counts.bytes} B, no whole frame yet`;
  return null;
}

function scaleReading(view: ScaleView): string {
  const weight = view.lastG === null ? "no weight yet" : `${shownWeight(view.lastG, view.unit)} = ${view.lastG} g${view.mode === "net" ? " net" : ""}`;
  let state: string;
  switch (view.condition) {
    case "ok":
      if (view.stable) state = "stable";
      else if (view.windowNeededMs !== null) state = `unstable: frames too far apart for stable_window_ms (it needs ${view.windowNeededMs})`;
      else state = "unstable";
      break;
    case "overload":
    case "underload":
      state = `no valid weight (${view.condition})`;
      break;
    case "above_capacity":
      state = "no valid weight (above capacity_g)";
      break;
    case "no_reading":
    case "offline":
      state = "no reading";
      break;
  }
  return `${weight}, ${state}, ${view.counts.framesPerSecond.toFixed(1)} frames/s`;
}

function readerReading(view: ReaderView): string {
  const cards =
    view.cards.length === 0
      ? "no card presented yet"
      : view.cards.map((c) => `${printable(c.cardId)} ×${c.presentations} ${Math.floor(c.agoMs / 1000)}s ago`).join(", ");
  return `${view.presentations} presentation${view.presentations === 1 ? "" : "s"} (${cards}), ${view.noise} noise`;
}

function levelReading(view: LevelView): string {
  const last = view.lastMm === null ? "no distance yet" : `${view.lastMm} mm`;
  const fill =
    view.medianMm === null || view.fillPercent === null
      ? "no median yet (5 readings)"
      : `median ${view.medianMm} mm = ${view.fillPercent.toFixed(1)} % full${view.full ? ", FULL" : ""}`;
  const no = view.noReading === null ? "" : `, no reading: ${printable(view.noReading)}`;
  return `${last}, ${fill} (bin ${view.binId}, full at ${view.fullMm} mm)${no}, ${view.counts.framesPerSecond.toFixed(1)} frames/s`;
}

/** One device's line (no newline, not truncated): state or hint, then readings, then counts. */
export function monitorLine(view: MonitorView): string {
  const pre = preamble(view);
  const reading = view.kind === "scale" ? scaleReading(view) : view.kind === "level" ? levelReading(view) : readerReading(view);
  if (pre !== null && view.counts.valid === 0) return `${head(view)} ${pre}; ${counts(view)}`;
  return `${head(view)} ${pre === null ? "" : pre + "; "}${reading}; ${counts(view)}`;
}

/**
 * What must change for a piped monitor to print a device's line again: the port, the reading and
 * its stability, the cards presented, the noise count, whether bytes, valid and discarded frames
 * came at all, and the hint's verdict;
 * not the frame rate or the running counts, which change with every frame.
 */
export function changeKey(view: MonitorView): string {
  // The hint's counts grow with every frame; its words change only when the verdict does.
  const hint = view.hint?.replace(/\d+/g, "#") ?? "";
  const common = [view.port.state, view.port.state === "offline" ? view.port.reason : "", view.counts.bytes > 0, view.counts.valid > 0, view.counts.discarded > 0, hint];
  if (view.kind === "scale") return JSON.stringify([...common, view.lastG, view.mode, view.condition, view.stable, view.windowNeededMs]);
  // The fill level in whole percent: the median moves by a millimetre or two with every reading.
  if (view.kind === "level") return JSON.stringify([...common, view.fillPercent === null ? null : Math.round(view.fillPercent), view.full, view.noReading]);
  return JSON.stringify([...common, view.presentations, view.cards.map((c) => c.cardId), view.noise]);
}

/** `line` cut to `columns` characters (code points), with `…` as the last one when cut. */
export function fitWidth(line: string, columns: number): string {
  const chars = Array.from(line);
  if (chars.length <= columns) return line;
  if (columns <= 1) return chars.slice(0, Math.max(0, columns)).join("");
  return chars.slice(0, columns - 1).join("") + "…";
}
