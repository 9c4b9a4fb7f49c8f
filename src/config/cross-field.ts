/**
 * The config checks that involve more than one key (contract.md section 2: ids unique within their
 * list, a scale serves one bin, rules_version required with categories, a level sensor per bin
 * with full_mm < empty_mm; issue 6: a bin's max_net_g
 * at most its scale's capacity_g; TLS files only with a TLS url; issue 10: two devices on one port).
 * Messages are complete: what was expected and what was found.
 */
import path from "node:path";
import { findProtocol, protocolNames } from "../protocol/registry.js";
import { DYP_A02_MAX_MM, DYP_A02_MIN_MM } from "../protocol/level/dyp-a02.js";
import { DEFAULT_EMPTY_MM, DEFAULT_FULL_MM, DEFAULT_REPEAT_GAP_MS } from "./device-schema.js";
import { quoteFound } from "./found.js";
import { gpioIssues } from "./gpio-schema.js";
import { windowNeededMs } from "../domain/scale-state.js";
import { DEFAULT_STABLE_MIN_SAMPLES, DEFAULT_STABLE_WINDOW_MS, slowestFramePeriodMs } from "../domain/stability.js";

/** A problem between keys: where (path segments) and the complete message. */
export interface CrossFieldIssue {
  path: (string | number)[];
  message: string;
}

type Issues = CrossFieldIssue[];

/** Records, as written, by index; anything that is not a list gives `null` (its own issue says why). */
function entries(value: unknown): Record<string, unknown>[] | null {
  if (!Array.isArray(value)) return null;
  return value.map((v): Record<string, unknown> => (isRecord(v) ? v : {}));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The checks between keys (unique ids, bins on existing and distinct scales, max_net_g within the
 * scale's capacity_g, rules_version with categories, TLS files with a TLS url), on YAML-decoded data that may be invalid elsewhere: it
 * reads defensively and skips checks whose inputs are themselves invalid (their own issues say
 * why). The schema runs it as a refinement; load.ts also runs it directly, because zod skips
 * refinements after some issues (a non-integer where an integer is expected aborts the parse),
 * and every problem must be reported at once.
 */
export function crossFieldIssues(data: unknown): CrossFieldIssue[] {
  const out: Issues = [];
  if (!isRecord(data)) return out;
  const scales = entries(data.scales);
  const scaleIds = uniqueIds("scales", scales, out);
  uniqueIds("readers", entries(data.readers), out);
  const bins = entries(data.bins);
  const binIds = uniqueIds("bins", bins, out);
  if (bins && scaleIds) checkBinScales(bins, scaleIds, out);
  const levelSensors = entries(data.level_sensors);
  uniqueIds("level_sensors", levelSensors, out);
  deviceIdsAcrossLists([["scales", scales], ["readers", entries(data.readers)], ["level_sensors", levelSensors]], out);
  if (levelSensors) checkLevelSensors(levelSensors, binIds, out);
  if (bins && scales) checkMaxNetG(bins, scales, out);
  if (isRecord(data.points)) checkPoints(data.points, out);
  if (isRecord(data.mqtt)) checkTls(data.mqtt, out);
  entries(data.scales)?.forEach((scale, i) => checkDivisions(scale, i, out));
  entries(data.readers)?.forEach((reader, i) => checkRepeatGap(reader, i, out));
  entries(data.scales)?.forEach((scale, i) => checkProtocolOptions("scales", scale, i, out));
  entries(data.scales)?.forEach((scale, i) => checkPollWindow(scale, i, out));
  entries(data.readers)?.forEach((reader, i) => checkProtocolOptions("readers", reader, i, out));
  entries(data.level_sensors)?.forEach((sensor, i) => checkProtocolOptions("level_sensors", sensor, i, out));
  out.push(...portOrUsbIssues(data));
  out.push(...gpioIssues(data));
  return out;
}

/**
 * A reader that needs several reads must let them be `repeat_gap_ms` apart: with a gap of 0, or
 * shorter than twice the interval at which the device repeats a held tag's frame, no tag is ever
 * presented, and nothing but a noise line in the log would say why.
 */
function checkRepeatGap(reader: Record<string, unknown>, i: number, out: Issues): void {
  if (typeof reader.protocol !== "string" || !protocolNames("reader").includes(reader.protocol)) return;
  const defaults = findProtocol("reader", reader.protocol).defaults;
  const minReads = reader.min_reads ?? defaults.minReads;
  const gap = reader.repeat_gap_ms ?? DEFAULT_REPEAT_GAP_MS;
  if (typeof minReads !== "number" || typeof gap !== "number" || minReads < 2) return;
  const floor = 2 * (defaults.heldTagRepeatMs ?? 0);
  if (gap > 0 && gap >= floor) return;
  const why =
    floor > 0
      ? `${reader.protocol} readers repeat a held tag about every ${defaults.heldTagRepeatMs} ms, so with min_reads ${minReads} the gap must be at least ${floor}`
      : `with min_reads ${minReads}, frames of one tag must be allowed some time apart`;
  out.push({ path: ["readers", i, "repeat_gap_ms"], message: `expected a gap in which ${minReads} reads can arrive (${why}), found ${gap}` });
}

/**
 * Level sensors (contract.md section 2, `level_sensors:`): each looks into an existing bin, a bin
 * has one sensor at most, and the full distance is shorter than the empty one (the sensor looks
 * down: a fuller bin is nearer). With dyp-a02, a full distance inside the blind zone (`min_mm`)
 * could never be read.
 */
function checkLevelSensors(sensors: Record<string, unknown>[], binIds: Set<string> | null, out: Issues): void {
  const sensorOf = new Map<string, number>();
  sensors.forEach((sensor, i) => {
    const bin = sensor.bin;
    if (typeof bin === "string" && binIds !== null) {
      if (!binIds.has(bin)) {
        out.push({ path: ["level_sensors", i, "bin"], message: unknownIdMessage("bin", binIds, bin) });
      } else {
        const other = sensorOf.get(bin);
        if (other === undefined) sensorOf.set(bin, i);
        else
          out.push({
            path: ["level_sensors", i, "bin"],
            message: `expected a bin no other level sensor looks into, found ${quoteFound(bin)} (already under level_sensors.${other}; one sensor per bin)`,
          });
      }
    }
    const empty = sensor.empty_mm ?? DEFAULT_EMPTY_MM;
    const full = sensor.full_mm ?? DEFAULT_FULL_MM;
    if (typeof empty === "number" && typeof full === "number" && full >= empty) {
      out.push({
        path: ["level_sensors", i, "full_mm"],
        message: `expected a distance less than empty_mm (${empty}: the sensor looks down, a full bin is nearer), found ${full}`,
      });
    }
    const blind = sensor.protocol === "dyp-a02" ? (sensor.min_mm ?? DYP_A02_MIN_MM) : undefined;
    if (typeof blind === "number" && typeof full === "number" && full < blind) {
      out.push({
        path: ["level_sensors", i, "full_mm"],
        message: `expected at least min_mm (${blind}: shorter readings are the sensor's blind zone, never read), found ${full}`,
      });
    }
    // An empty bin farther than max_mm reads as no reading: its median would stay at the last
    // (full) distance, and a bin emptied while full would never be bin_ok again.
    const range = sensor.protocol === "dyp-a02" ? (sensor.max_mm ?? DYP_A02_MAX_MM) : undefined;
    if (typeof range === "number" && typeof empty === "number" && empty > range) {
      out.push({
        path: ["level_sensors", i, "empty_mm"],
        message: `expected at most max_mm (${range}: longer readings are beyond the sensor's range, never read), found ${empty}`,
      });
    }
  });
}

/**
 * Options of a device's protocol that contradict each other or the protocol (the protocol's
 * `optionIssues`, e.g. modbus-rtu's word order on a one-register value): config errors at the
 * option's key.
 */
function checkProtocolOptions(list: "scales" | "readers" | "level_sensors", item: Record<string, unknown>, i: number, out: Issues): void {
  const kind = list === "scales" ? "scale" : list === "readers" ? "reader" : "level";
  if (typeof item.protocol !== "string" || !protocolNames(kind).includes(item.protocol)) return;
  for (const issue of findProtocol(kind, item.protocol).optionIssues(item)) out.push({ path: [list, i, ...issue.path], message: issue.message });
}

/**
 * A scale the station polls answers once per `poll_ms`: its stability window must hold
 * `stable_min_samples` answers, `(stable_min_samples - 1) × poll_ms <= stable_window_ms`
 * (domain/stability.ts `slowestFramePeriodMs`), or it is never stable and nothing is ever weighed on
 * its bin. Unlike a streaming indicator's rate, this is known from the file alone. The window asked
 * for holds one answer more, rounded up to 100 ms (scale-state.ts `windowNeededMs`).
 */
function checkPollWindow(scale: Record<string, unknown>, i: number, out: Issues): void {
  if (typeof scale.protocol !== "string" || !protocolNames("scale").includes(scale.protocol)) return;
  const protocol = findProtocol("scale", scale.protocol);
  if (protocol.optionIssues(scale).length > 0) return;
  let everyMs: number | undefined;
  try {
    everyMs = protocol.configure(scale).port.poll?.everyMs;
  } catch {
    return; // its own issues say why
  }
  const windowMs = scale.stable_window_ms ?? DEFAULT_STABLE_WINDOW_MS;
  const minSamples = scale.stable_min_samples ?? DEFAULT_STABLE_MIN_SAMPLES;
  if (everyMs === undefined || typeof windowMs !== "number" || typeof minSamples !== "number" || !(windowMs > 0) || !(minSamples >= 1)) return;
  if (everyMs <= slowestFramePeriodMs({ windowMs, minSamples, toleranceG: 0 })) return;
  const needed = windowNeededMs(everyMs, minSamples);
  out.push({
    path: ["scales", i, "stable_window_ms"],
    message: `expected a window that holds stable_min_samples (${minSamples}) answers polled every poll_ms (${everyMs} ms), at least ${needed}, found ${windowMs}: the scale would never be stable`,
  });
}

/** A tolerance in divisions needs the division's size in grams. */
function checkDivisions(scale: Record<string, unknown>, i: number, out: Issues): void {
  if (scale.stable_tolerance_divisions !== undefined && scale.division_g === undefined) {
    out.push({
      path: ["scales", i, "division_g"],
      message: "required key missing (required when stable_tolerance_divisions is given)",
    });
  }
}

/**
 * An id used in two device lists (a scale and a reader, a scale and a level sensor): the status's
 * `devices` map, the telemetry counters and the port events know a device by its id alone
 * (contract.md section 4), so one device's unplugging would be taken for the other's. Reported
 * at each later use; repeats within one list are {@link uniqueIds}'s.
 */
function deviceIdsAcrossLists(lists: [string, Record<string, unknown>[] | null][], out: Issues): void {
  const owner = new Map<string, string>();
  for (const [list, items] of lists) {
    const mine = new Map<string, string>();
    items?.forEach((item, i) => {
      const id = item.id;
      if (typeof id !== "string") return;
      const first = owner.get(id);
      if (first !== undefined) {
        out.push({
          path: [list, i, "id"],
          message: `expected an id no other device uses, found ${quoteFound(id)} (already ${first}; the status and alarms know a device by its id alone)`,
        });
      } else if (!mine.has(id)) mine.set(id, `${list}.${i}.id`);
    });
    for (const [id, at] of mine) owner.set(id, at);
  }
}

/** Reports repeated ids at the repeat; returns the ids, or null when some id is not a string. */
function uniqueIds(list: string, items: Record<string, unknown>[] | null, out: Issues): Set<string> | null {
  if (!items) return null;
  const first = new Map<string, number>();
  let allStrings = true;
  items.forEach((item, i) => {
    const id = item.id;
    if (typeof id !== "string") {
      allStrings = false;
      return;
    }
    const at = first.get(id);
    if (at === undefined) first.set(id, i);
    else
      out.push({
        path: [list, i, "id"],
        message: `expected an id unique within ${list}, found ${quoteFound(id)} again (first at ${list}.${at}.id)`,
      });
  });
  return allStrings ? new Set(first.keys()) : null;
}

function checkBinScales(bins: Record<string, unknown>[], scaleIds: Set<string>, out: Issues): void {
  const servedBy = new Map<string, number>();
  bins.forEach((bin, i) => {
    const scale = bin.scale;
    if (typeof scale !== "string") return;
    if (!scaleIds.has(scale)) {
      out.push({ path: ["bins", i, "scale"], message: unknownIdMessage("scale", scaleIds, scale) });
      return;
    }
    const other = servedBy.get(scale);
    if (other === undefined) servedBy.set(scale, i);
    else
      out.push({
        path: ["bins", i, "scale"],
        message: `expected a scale no other bin uses, found ${quoteFound(scale)} (already under bins.${other}; a scale serves one bin)`,
      });
  });
}

/**
 * A written max_net_g above the bin's scale's capacity_g is an error: such a deposit could never be
 * weighed. (An unwritten one takes the lower of the two and is never an error: station-context.ts.)
 */
function checkMaxNetG(bins: Record<string, unknown>[], scales: Record<string, unknown>[], out: Issues): void {
  const capacityOf = new Map<unknown, number>();
  for (const scale of scales) if (typeof scale.capacity_g === "number") capacityOf.set(scale.id, scale.capacity_g);
  bins.forEach((bin, i) => {
    const capacity = capacityOf.get(bin.scale);
    if (typeof bin.max_net_g !== "number" || capacity === undefined || bin.max_net_g <= capacity) return;
    out.push({
      path: ["bins", i, "max_net_g"],
      message: `expected at most the capacity_g of scale ${quoteFound(String(bin.scale))} (${capacity}), found ${bin.max_net_g}`,
    });
  });
}

function checkPoints(points: Record<string, unknown>, out: Issues): void {
  if (isRecord(points.categories)) {
    for (const [category, rule] of Object.entries(points.categories)) {
      if (!isRecord(rule)) continue;
      const perKg = rule.points_per_kg !== undefined;
      const perDeposit = rule.points_per_deposit !== undefined;
      if (perKg === perDeposit)
        out.push({
          path: ["points", "categories", category],
          message: perKg
            ? "expected one of points_per_kg and points_per_deposit, found both"
            : "required key missing (points_per_kg or points_per_deposit)",
        });
    }
  }
  if (points.categories !== undefined && points.rules_version === undefined) {
    out.push({
      path: ["points", "rules_version"],
      message: "required key missing (required when points.categories is given)",
    });
  }
}

function checkTls(mqtt: Record<string, unknown>, out: Issues): void {
  const url = typeof mqtt.url === "string" ? mqtt.url : null;
  const scheme = url?.split(":", 1)[0]?.toLowerCase();
  // Only against a valid plain scheme: an invalid url has its own issue.
  const plain = scheme === "mqtt" || scheme === "ws";
  for (const key of ["ca_file", "cert_file", "key_file"] as const) {
    if (mqtt[key] === undefined) continue;
    if (url !== null && plain)
      out.push({
        path: ["mqtt", key],
        message: `only used with an mqtts:// or wss:// url, found mqtt.url ${quoteFound(url)}`,
      });
  }
  if (mqtt.password !== undefined && mqtt.password_file !== undefined)
    out.push({
      path: ["mqtt", "password_file"],
      message: "expected either mqtt.password or mqtt.password_file, found both (which one would the station use?)",
    });
  const pairs = [
    ["cert_file", "key_file"],
    ["key_file", "cert_file"],
  ] as const;
  for (const [given, needed] of pairs) {
    if (mqtt[given] !== undefined && mqtt[needed] === undefined)
      out.push({
        path: ["mqtt", needed],
        message: `required key missing (required when mqtt.${given} is given)`,
      });
  }
}

/**
 * Two serial devices on one port (issue 10, item 5): one process cannot open a port twice, and
 * two devices' bytes would be one stream. Every top-level list whose items have a string `port`
 * counts (`scales`, `readers`, `level_sensors` and any later one). Ports are compared as absolute
 * paths (relative to `baseDir`) and, through `realpath`, as the devices they lead to, so
 * `/dev/serial/by-id/usb-…` and the `/dev/ttyUSB0` it points at are one port when both exist
 * (realpath(3) resolves the symbolic links udev makes). Reported at the later device's `port`.
 *
 * @param realpath the canonical path of an existing entry, `null` when it does not exist (then
 *   only the written paths are compared).
 */
export function sharedPortIssues(
  data: unknown,
  baseDir: string,
  realpath: (p: string) => string | null,
): CrossFieldIssue[] {
  const out: Issues = [];
  if (!isRecord(data)) return out;
  const seen = new Map<string, { at: string; written: string }>();
  for (const [list, value] of Object.entries(data)) {
    entries(value)?.forEach((item, i) => {
      if (typeof item.port !== "string" || item.port === "") return;
      const written = item.port;
      const absolute = path.resolve(baseDir, written);
      const device = realpath(absolute) ?? absolute;
      const id = typeof item.id === "string" ? ` (${item.id})` : "";
      const first = seen.get(device);
      if (first === undefined) {
        seen.set(device, { at: `${list}.${i}${id}`, written });
        return;
      }
      const same = first.written === written ? "" : `, the same device as ${quoteFound(first.written)}`;
      out.push({
        path: [list, i, "port"],
        message: `expected a port no other device uses, found ${quoteFound(written)}${same} (already the port of ${first.at}; a serial port serves one device)`,
      });
    });
  }
  return out;
}

/**
 * The device lists whose items name a serial port by `port` or `usb` (issue 9, item 4): those built
 * with device-schema.ts's common keys. A list whose items require `port` in their own schema stays
 * out, or a missing port would be reported twice.
 */
const SERIAL_LISTS = ["scales", "readers", "level_sensors"] as const;

/**
 * Each serial device names its port one way (issue 9, item 4): exactly one of `port` and `usb`
 * (the USB adapter's identity, found at run time: src/adapters/serial/usb-port.ts); and two
 * devices never give the same `usb` identity (one adapter cannot serve both). Identities are
 * compared as written (ids case-insensitively); a `usb` without `serial` that matches two adapters
 * is found ambiguous at run time instead, since only then is it known how many are plugged in.
 */
function portOrUsbIssues(data: Record<string, unknown>): Issues {
  const out: Issues = [];
  const seen = new Map<string, string>();
  for (const list of SERIAL_LISTS) {
    entries(data[list])?.forEach((item, i) => {
      // An item that is no mapping is reported as such by the schema; it has no keys to check.
      if (!isRecord((data[list] as unknown[])[i])) return;
      // A reader on GPIO lines (wiegand) has no port: its schema names d0_line and d1_line instead.
      if (list === "readers" && typeof item.protocol === "string" && protocolNames("reader").includes(item.protocol)) {
        if (findProtocol("reader", item.protocol).transport === "gpio") return;
      }
      const hasPort = item.port !== undefined;
      const hasUsb = item.usb !== undefined;
      if (hasPort && hasUsb) {
        out.push({ path: [list, i, "usb"], message: "expected one of port and usb, found both (usb finds the port by its adapter's identity instead of a path)" });
      } else if (!hasPort && !hasUsb) {
        out.push({ path: [list, i, "port"], message: "required key missing (or usb: the USB adapter's identity instead of a path)" });
      }
      if (!isRecord(item.usb)) return;
      const { vendor_id: vendor, product_id: product, serial, interface: iface } = item.usb;
      if (typeof vendor !== "string" || typeof product !== "string") return;
      const key = JSON.stringify([vendor.toLowerCase(), product.toLowerCase(), serial ?? null, iface ?? null]);
      const id = typeof item.id === "string" ? ` (${item.id})` : "";
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, `${list}.${i}${id}`);
        return;
      }
      const what = `${vendor.toLowerCase()}:${product.toLowerCase()}${typeof serial === "string" ? ` serial ${serial}` : ""}${typeof iface === "number" ? ` interface ${iface}` : ""}`;
      out.push({
        path: [list, i, "usb"],
        message: `expected a USB identity no other device uses, found ${what} again (already the usb of ${first}; one adapter serves one device)`,
      });
    });
  }
  return out;
}

/** The message for a reference to a `what` (`bin`, `scale`) that is none of `ids`: the ids it could be. */
function unknownIdMessage(what: "bin" | "scale", ids: ReadonlySet<string>, found: string): string {
  return ids.size === 0
    ? `expected the id of a ${what} in ${what}s, found ${quoteFound(found)} (no ${what}s are configured)`
    : `expected the id of a ${what} (one of: ${[...ids].join(", ")}), found ${quoteFound(found)}`;
}
