/**
 * Warnings about a valid config file: mistakes technicians make that leave a station that runs
 * but does something they did not mean (issue 10, item 5; contract.md section 1: `config check`
 * prints each as `FILE:LINE:COL: path: warning: MESSAGE` and still exits 0, `run` logs them at
 * warn). Errors (exit 78) are in cross-field.ts and load.ts; these never refuse a file.
 */
import { closest, distance } from "fastest-levenshtein";
import type { Document, LineCounter } from "yaml";
import type { ConfigProblem } from "./problems.js";
import type { Config } from "./schema.js";
import { quoteFound } from "./found.js";
import { inspectTlsMaterial, type CertificateFacts } from "./tls-material.js";
import { positionOf } from "./yaml-position.js";

/** What the warnings read besides the config: the file's text positions and the outside world. */
export interface WarningSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Now, for certificate expiry. */
  now: Date;
  /** Reads a file named by the config (TLS material); throws when it cannot (load.ts refused that already). */
  readFile: (path: string) => Uint8Array;
  /** The config file's permission bits (`stat.mode & 0o777`), `null` when not known (text checks). */
  fileMode: number | null;
}

type Segment = string | number;

/**
 * Every warning about `config` (validated, paths resolved), in file order of the checks below:
 * a bin whose category has no points rule while a rules table exists (naming the nearest rule),
 * a scale that serves no bin, a TLS certificate past its expiry, a password written in the file,
 * a password (from either key) sent over a plain mqtt:// or ws:// URL, and `tls_insecure`.
 */
export function configWarnings(config: Readonly<Config>, source: WarningSource): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const warn = (path: Segment[], message: string): void => {
    out.push({ file: source.file, ...positionOf(source.doc, path, source.lineCounter), path: path.join("."), message });
  };
  categoriesWithoutRule(config, warn);
  scalesWithoutBin(config, warn);
  expiredCertificates(config, source, warn);
  passwordInFile(config, source.fileMode, warn);
  passwordFileOverPlainUrl(config, warn);
  tlsInsecure(config, warn);
  return out;
}

type Warn = (path: Segment[], message: string) => void;

/** The rule a misspelt category most likely meant: the nearest by edit distance, if near enough. */
export function nearestRule(category: string, rules: readonly string[]): string | null {
  if (rules.length === 0) return null;
  const folded = category.toLowerCase().replace(/-/g, "_");
  const best = closest(folded, [...rules]);
  // A third of the name, at least 2 edits: food-waste→food_waste, recyclables→recyclable, not glass→paper.
  return distance(folded, best) <= Math.max(2, Math.floor(category.length / 3)) ? best : null;
}

function categoriesWithoutRule(config: Readonly<Config>, warn: Warn): void {
  const categories = config.points?.categories;
  if (categories === undefined) return;
  const rules = Object.keys(categories);
  config.bins.forEach((bin, i) => {
    if (Object.hasOwn(categories, bin.category)) return;
    const guess = nearestRule(bin.category, rules);
    const hint = guess === null ? ` (rules: ${rules.join(", ") || "none"})` : `; did you mean ${guess}?`;
    warn(
      ["bins", i, "category"],
      `no points rule for category ${quoteFound(bin.category)} in points.categories: deposits into bin ${quoteFound(bin.id)} earn 0 points (points_reason no_rule)${hint}`,
    );
  });
}

function scalesWithoutBin(config: Readonly<Config>, warn: Warn): void {
  const used = new Set(config.bins.map((b) => b.scale));
  config.scales.forEach((scale, i) => {
    if (used.has(scale.id)) return;
    warn(
      ["scales", i, "id"],
      `scale ${quoteFound(scale.id)} serves no bin: it is read, but its weights never make a deposit (name it in a bin's scale, or remove it)`,
    );
  });
}

function expiredCertificates(config: Readonly<Config>, source: WarningSource, warn: Warn): void {
  for (const key of ["ca_file", "cert_file"] as const) {
    const file = config.mqtt[key];
    if (file === undefined) continue;
    let bytes: Uint8Array;
    try {
      bytes = source.readFile(file);
    } catch {
      continue; // load.ts reported it as an error
    }
    const material = inspectTlsMaterial(bytes, "certificates");
    if (!material.ok) continue;
    const expired = material.certificates.filter((c) => c.validTo.getTime() <= source.now.getTime());
    if (expired.length === 0) continue;
    const whose = key === "ca_file" ? "the broker's certificate cannot be verified" : "the broker will refuse this station's certificate";
    warn(
      ["mqtt", key],
      `${describeExpired(expired)}: ${whose}, so events wait in the database until it is renewed (residents are still served)`,
    );
  }
}

function describeExpired(certs: CertificateFacts[]): string {
  const [first] = certs;
  if (first === undefined) return "";
  const more = certs.length > 1 ? ` and ${certs.length - 1} more` : "";
  return `certificate ${first.subject || "(no subject)"} expired on ${first.validTo.toISOString()}${more}`;
}

function passwordInFile(config: Readonly<Config>, fileMode: number | null, warn: Warn): void {
  if (config.mqtt.password === undefined) return;
  const scheme = config.mqtt.url.split(":", 1)[0]?.toLowerCase();
  const plain = scheme === "mqtt" || scheme === "ws";
  const readable = fileMode !== null && (fileMode & 0o004) !== 0;
  let message = "a password written in the config file: anyone who can read the file can read it";
  if (readable) message += ` (and every user of this machine can: mode ${(fileMode & 0o777).toString(8).padStart(4, "0")}; chmod 0640)`;
  message += "; move it to a file of its own, readable only by the station's user, named by mqtt.password_file";
  if (plain) message += `. WORSE: mqtt.url is plain ${scheme}://, so the password also crosses the network unencrypted: use ${scheme === "ws" ? "wss" : "mqtts"}://`;
  warn(["mqtt", "password"], message);
}

/** The scheme of `mqtt.url` when it is a plain (unencrypted) one, else `null`. */
function plainScheme(url: string): "mqtt" | "ws" | null {
  const scheme = url.split(":", 1)[0]?.toLowerCase();
  return scheme === "mqtt" || scheme === "ws" ? scheme : null;
}

/** A password kept in its own file still crosses the network in clear over mqtt:// or ws:// (MQTT 5.0 section 3.1.3.6). */
function passwordFileOverPlainUrl(config: Readonly<Config>, warn: Warn): void {
  if (config.mqtt.password_file === undefined) return;
  const scheme = plainScheme(config.mqtt.url);
  if (scheme === null) return;
  warn(
    ["mqtt", "password_file"],
    `mqtt.url is plain ${scheme}://, so the password crosses the network unencrypted (anyone on the path can read it): use ${scheme === "ws" ? "wss" : "mqtts"}://`,
  );
}

function tlsInsecure(config: Readonly<Config>, warn: Warn): void {
  if (!config.mqtt.tls_insecure) return;
  const plain = plainScheme(config.mqtt.url) !== null;
  warn(
    ["mqtt", "tls_insecure"],
    plain
      ? "tls_insecure is true, but mqtt.url is not mqtts:// or wss://: it has no effect"
      : "tls_insecure is true: the broker's certificate is not checked, so anyone on the path can pose as the broker (logged at warn at every connect; for commissioning only)",
  );
}
