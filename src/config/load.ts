/**
 * Loading the config file: read, parse YAML with positions, validate against the one schema,
 * report every problem with its place in the file, resolve relative paths, freeze.
 * Never throws for bad input; a bad file is a list of problems (contract.md section 1).
 */
import { accessSync, constants as fsConstants, readFileSync, realpathSync, statSync, type Stats } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from "yaml";
import type { z } from "zod";
import { readCardsFile } from "./cards-file.js";
import { oneLine, readFailure } from "./read-failure.js";
import { crossFieldIssues, sharedPortIssues, type CrossFieldIssue } from "./cross-field.js";
import { configSchema, type Config } from "./schema.js";
import { DECIMAL_TEXT } from "./decimal.js";
import { issuesToProblems, sortProblems, type ConfigProblem } from "./problems.js";
import { TLS_FILE_KEYS, inspectTlsMaterial } from "./tls-material.js";
import { configWarnings } from "./warnings.js";
import { isEmptyValue, nodesAlong, nodePosition } from "./yaml-position.js";

export { formatProblem, formatWarning, type ConfigProblem } from "./problems.js";

/** A config file is a page of YAML; anything past this is not one. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * The outcome of loading a config. `config` is deep-frozen, with defaults filled in and relative
 * paths (`storage.path`, `mqtt.ca_file`/`cert_file`/`key_file`/`password_file`) made absolute against the config
 * file's folder; `file` is the file as given. `problems` is never empty, sorted by line and column.
 * `warnings` (warnings.ts) are about a valid file: printed by `config check`, logged by `run`, they
 * never refuse it.
 */
export type ConfigLoadResult =
  | { ok: true; config: Readonly<Config>; file: string; warnings: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[] };

/** What loading reads from outside the text; each has the real default, tests inject their own. */
export interface LoadOptions {
  /** Now, for certificate expiry warnings; default the wall clock. */
  now?: Date;
  /**
   * What the command does with the database at `storage.path`: `write` (default: `run`, `doctor`,
   * `config check`) needs a folder this user can write to on a writable file system; `read`
   * (`outbox status|list|export`) only needs an existing database to be a regular file this user
   * can read, so a station's card mounted read-only can be inspected.
   */
  storage?: "write" | "read";
  /** The canonical path of an existing entry, `null` when none (ports on one device); default realpath(3). */
  realpath?: (p: string) => string | null;
  /** The config file's permission bits, for the password warning; `null` (default for text) when unknown. */
  fileMode?: number | null;
}

/**
 * Reads and validates the config file `file` (printed exactly as given in problems). A missing or
 * unreadable file is one problem at 1:1 with path `(file)`.
 */
export function loadConfigFile(file: string, opts: LoadOptions = {}): ConfigLoadResult {
  let text: string;
  let fileMode: number | null = null;
  try {
    // A FIFO or a device (/dev/zero) would block or never end: only a regular file of sane size is read.
    const stat = statSync(file);
    if (stat.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!stat.isFile()) {
      return { ok: false, problems: [{ file, line: 1, col: 1, path: "(file)", message: "cannot read: not a regular file" }] };
    }
    if (stat.size > MAX_CONFIG_BYTES) {
      return {
        ok: false,
        problems: [
          { file, line: 1, col: 1, path: "(file)", message: `cannot read: larger than ${MAX_CONFIG_BYTES} bytes (${stat.size})` },
        ],
      };
    }
    text = readFileSync(file, "utf8");
    fileMode = stat.mode & 0o777;
  } catch (err) {
    return {
      ok: false,
      problems: [{ file, line: 1, col: 1, path: "(file)", message: `cannot read: ${readFailure(err)}` }],
    };
  }
  return checkConfigText(text, file, path.dirname(path.resolve(file)), { fileMode, ...opts });
}

/**
 * Validates config text. `fileLabel` names the file in problems and in the result; `baseDir` is
 * the folder relative paths in the config are resolved against.
 */
export function checkConfigText(text: string, fileLabel: string, baseDir: string, opts: LoadOptions = {}): ConfigLoadResult {
  const lineCounter = new LineCounter();
  // logLevel "error": yaml's warnings (e.g. a collection used as a key) must not reach stderr.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: "error" });
  const at = (offset: number) => lineCounter.linePos(offset);
  const fail = (problems: ConfigProblem[]): ConfigLoadResult => ({
    ok: false,
    problems: sortProblems(problems),
  });

  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => ({
        file: fileLabel,
        ...at(e.pos[0]),
        path: "(yaml)",
        message: e.code === "MULTIPLE_DOCS" ? "the file holds more than one YAML document (a line \"---\" starts another one); a config is one document" : oneLine(e.message),
      })),
    );
  }
  const top = doc.contents;
  if (top === null || isEmptyValue(top)) {
    return fail([rootProblem(fileLabel, { line: 1, col: 1 }, "nothing (an empty file)")]);
  }
  if (!isMap(top)) {
    const found = isSeq(top)
      ? "a list"
      : isScalar(top)
        ? JSON.stringify(top.source ?? top.value)
        : "something else";
    return fail([rootProblem(fileLabel, nodePosition(top, lineCounter) ?? { line: 1, col: 1 }, found)]);
  }

  const unresolved: ConfigProblem[] = [];
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined) return;
      unresolved.push({
        file: fileLabel,
        ...(nodePosition(alias, lineCounter) ?? { line: 1, col: 1 }),
        path: "(yaml)",
        message: `unresolved alias *${alias.source} (the anchor &${alias.source} must come before it)`,
      });
    },
  });
  if (unresolved.length > 0) return fail(unresolved);

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // Alias bombs (yaml's maxAliasCount) throw here, not in doc.errors.
    const message = err instanceof Error ? err.message : String(err);
    return fail([{ file: fileLabel, line: 1, col: 1, path: "(yaml)", message: oneLine(message) }]);
  }
  keepWrittenDecimals(doc, data);

  const source = { file: fileLabel, doc, lineCounter, data };
  const toProblems = (extra: CrossFieldIssue[]) => issuesToProblems(extra.map((i) => ({ code: "custom" as const, input: undefined, ...i })), source);
  const portProblems = toProblems(sharedPortIssues(data, baseDir, opts.realpath ?? realpathOrNull));
  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    const issues: z.core.$ZodIssue[] = [...parsed.error.issues];
    // zod skips the schema's cross-field refinement after an aborting issue; add what it skipped.
    const seen = new Set(issues.map((i) => `${i.path.join(".")}\n${i.message}`));
    for (const extra of crossFieldIssues(data)) {
      if (!seen.has(`${extra.path.join(".")}\n${extra.message}`)) issues.push({ code: "custom", ...extra });
    }
    return fail([
      ...issuesToProblems(issues, source),
      ...portProblems,
      ...unreadableFiles(data, baseDir, fileLabel, doc, lineCounter),
      ...unreadablePasswordFile(data, baseDir, fileLabel, doc, lineCounter),
    ]);
  }
  const unreadable = [
    ...portProblems,
    ...unreadableFiles(data, baseDir, fileLabel, doc, lineCounter),
    ...unreadablePasswordFile(data, baseDir, fileLabel, doc, lineCounter),
    ...unusableStorage(parsed.data.storage.path, baseDir, fileLabel, doc, lineCounter, opts.storage ?? "write"),
  ];
  if (unreadable.length > 0) return fail(unreadable);
  let resolved = resolvePaths(parsed.data, baseDir);
  if (resolved.cards.file !== undefined) {
    const cards = readCardsFile(resolved.cards.file, resolved.cards);
    if (!cards.ok) {
      const node = doc.getIn(["cards", "file"], true) as Parameters<typeof nodePosition>[0] | undefined;
      const at = (node && nodePosition(node, lineCounter)) ?? { line: 1, col: 1 };
      return fail(cards.messages.map((message) => ({ file: fileLabel, ...at, path: "cards.file", message })));
    }
    const { collectors, maintenance, blocked } = cards.lists;
    resolved = { ...resolved, cards: { ...resolved.cards, collectors: [...collectors], maintenance: [...maintenance], blocked: [...blocked] } };
  }
  const config = deepFreeze(resolved);
  const warnings = configWarnings(config, {
    file: fileLabel,
    doc,
    lineCounter,
    now: opts.now ?? new Date(),
    readFile: (p) => readFileSync(p),
    fileMode: opts.fileMode ?? null,
  });
  return { ok: true, config, file: fileLabel, warnings: sortProblems(warnings) };
}

/** realpath(3) of an existing entry, `null` when it cannot be resolved (missing, or a dangling link). */
function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * Files the config names and the daemon must read (TLS material): each must be a readable file
 * holding PEM that node:crypto accepts (tls-material.ts: certificates for ca_file and cert_file,
 * an unencrypted private key for key_file), or `smartbin run` would fail later, at every connect,
 * instead of exit 78.
 */
function unreadableFiles(
  data: unknown,
  baseDir: string,
  file: string,
  doc: Document,
  lineCounter: LineCounter,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const section = "mqtt";
  for (const [key, kind] of TLS_FILE_KEYS) {
    const given = (data as Record<string, Record<string, unknown> | undefined> | null)?.[section]?.[key];
    // A value of the wrong type is the schema's problem, reported already.
    if (typeof given !== "string" || given === "") continue;
    const value = path.resolve(baseDir, given);
    const report = (message: string) => {
      const node = doc.getIn([section, key], true) as Parameters<typeof nodePosition>[0] | undefined;
      problems.push({
        file,
        ...((node && nodePosition(node, lineCounter)) ?? { line: 1, col: 1 }),
        path: `${section}.${key}`,
        message,
      });
    };
    let bytes: Buffer;
    try {
      bytes = readFileSync(value);
    } catch (err) {
      report(`expected a readable file, found ${JSON.stringify(value)}: ${readFailure(err)}`);
      continue;
    }
    const material = inspectTlsMaterial(bytes, kind);
    const expected = kind === "private_key" ? "a PEM private key" : "PEM certificates";
    if (!material.ok) report(`expected ${expected}, found ${JSON.stringify(value)}: ${material.problem}`);
  }
  return problems;
}

/** What {@link readPasswordFile} found: the password, or why the file cannot give one. */
export type PasswordFileResult = { ok: true; password: string } | { ok: false; problem: string };

/** A password file is one line; a larger file is not one (and MQTT strings end at 65,535 bytes). */
const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/**
 * Reads `mqtt.password_file` (an absolute path): the password is the file's first line, without
 * its line end (LF or CRLF) and without trailing spaces or tabs (editors leave them; leading ones
 * are kept). A missing or unreadable file, one larger than 64 KiB, an empty first line or a
 * password over 65,535 UTF-8 bytes (MQTT 5.0 section 1.5.4) is `ok: false` with `problem`
 * completing "expected a password file, found FILE: …". Never throws. The daemon reads it with
 * this at start and at each reload; `config check` refuses the file (exit 78) when it fails.
 */
export function readPasswordFile(file: string): PasswordFileResult {
  let bytes: Buffer;
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) return { ok: false, problem: "is a directory" };
    if (!stat.isFile()) return { ok: false, problem: "not a regular file" };
    if (stat.size > MAX_PASSWORD_FILE_BYTES) return { ok: false, problem: `larger than ${MAX_PASSWORD_FILE_BYTES} bytes (${stat.size}): not a password file` };
    bytes = readFileSync(file);
  } catch (err) {
    return { ok: false, problem: readFailure(err) };
  }
  const firstLine = bytes.toString("utf8").split("\n", 1)[0] ?? "";
  const password = firstLine.replace(/\r$/, "").replace(/[ \t]+$/, "");
  if (password === "") return { ok: false, problem: bytes.length === 0 ? "an empty file" : "an empty first line (the password is the first line)" };
  if (Buffer.byteLength(password, "utf8") > 65_535) return { ok: false, problem: "a first line over 65535 bytes (MQTT's limit)" };
  return { ok: true, password };
}

/** `mqtt.password_file` must give a password (readPasswordFile), or the station could never log in. */
function unreadablePasswordFile(data: unknown, baseDir: string, file: string, doc: Document, lineCounter: LineCounter): ConfigProblem[] {
  const given = (data as { mqtt?: Record<string, unknown> } | null)?.mqtt?.password_file;
  if (typeof given !== "string" || given === "") return [];
  const value = path.resolve(baseDir, given);
  const result = readPasswordFile(value);
  if (result.ok) return [];
  const node = doc.getIn(["mqtt", "password_file"], true) as Parameters<typeof nodePosition>[0] | undefined;
  const at = (node && nodePosition(node, lineCounter)) ?? { line: 1, col: 1 };
  return [{ file, ...at, path: "mqtt.password_file", message: `expected a readable file whose first line is the password, found ${JSON.stringify(value)}: ${result.problem}` }];
}

/** What a file-system entry is, in words, for a storage problem. */
function entryKind(stat: Stats): string {
  if (stat.isDirectory()) return "a directory";
  if (stat.isFIFO()) return "a FIFO";
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
  if (stat.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * `storage.path` must be a place the daemon can keep its database (issue "An outbox that survives
 * anything", item 5), or `smartbin run` would fail at start and restart-loop instead of exit 78:
 * an existing entry must be a regular file (after symbolic links) the user can read and write; the
 * folder, or where it does not exist yet its nearest existing ancestor (the station creates the
 * missing folders, 0700), must be a directory the user can write to, on a writable file system.
 * SQLite's in-memory name is not checked. Checked as the user running the command: run the check
 * as the service's user. With `use` `read` only an existing entry is checked, for reading.
 */
function unusableStorage(given: string, baseDir: string, file: string, doc: Document, lineCounter: LineCounter, use: "write" | "read"): ConfigProblem[] {
  if (given === IN_MEMORY) return [];
  const value = path.resolve(baseDir, given);
  const problem = (message: string): ConfigProblem[] => {
    const node = doc.getIn(["storage", "path"], true) as Parameters<typeof nodePosition>[0] | undefined;
    const at = (node && nodePosition(node, lineCounter)) ?? { line: 1, col: 1 };
    return [{ file, ...at, path: "storage.path", message }];
  };
  // A folder's spelling ("/var/lib/smartbin/", "data/.") would make the station create a database
  // FILE with the folder's name: path.resolve drops the trailing part.
  if (/(^|\/)\.{0,2}$/.test(given)) {
    return problem(`expected a database file, found ${JSON.stringify(given)}, a folder's name: name the file too, such as ${JSON.stringify(path.join(given, "smartbin.db"))}`);
  }
  const access = (p: string, mode: number): string | null => {
    try {
      accessSync(p, mode);
      return null;
    } catch (err) {
      return storageFailure(err);
    }
  };
  let stat: Stats | undefined;
  try {
    stat = statSync(value);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return problem(`expected a database file, found ${JSON.stringify(value)}: ${storageFailure(err)}`);
  }
  if (stat !== undefined) {
    if (!stat.isFile()) return problem(`expected a database file, found ${JSON.stringify(value)}: ${entryKind(stat)}`);
    if (use === "read") {
      const denied = access(value, fsConstants.R_OK);
      return denied === null ? [] : problem(`expected a database file this user can read, found ${JSON.stringify(value)}: ${denied}`);
    }
    const denied = access(value, fsConstants.R_OK | fsConstants.W_OK);
    if (denied !== null) return problem(`expected a database file this user can read and write, found ${JSON.stringify(value)}: ${denied}${ownerHint(stat, value)}`);
  }
  // Nothing there: a reading command reports that there is no database.
  if (use === "read") return [];
  let folder = path.dirname(value);
  for (;;) {
    let folderStat: Stats | undefined;
    try {
      folderStat = statSync(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || path.dirname(folder) === folder) {
        return problem(`expected a folder this user can write to, found ${JSON.stringify(folder)}: ${storageFailure(err)}`);
      }
      folder = path.dirname(folder);
      continue;
    }
    if (!folderStat.isDirectory()) return problem(`expected a folder for the database, found ${JSON.stringify(folder)}: ${entryKind(folderStat)}`);
    const denied = access(folder, fsConstants.W_OK | fsConstants.X_OK);
    if (denied !== null) return problem(`expected a folder this user can write to, found ${JSON.stringify(folder)}: ${denied}`);
    return [];
  }
}

/** {@link readFailure}, plus the reasons a database place can have. */
function storageFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EROFS") return "on a read-only file system (EROFS)";
  return readFailure(err);
}

function rootProblem(file: string, at: { line: number; col: number }, found: string): ConfigProblem {
  return {
    file,
    ...at,
    path: "(root)",
    message: `expected a mapping of settings (at least station and mqtt), found ${found}`,
  };
}

/**
 * `points_per_kg` must be exact as written (contract.md section 3), but YAML reads `1.16` as a
 * binary float. Where the file wrote a plain decimal, hand the schema the written text instead.
 */
function keepWrittenDecimals(doc: Document, data: unknown): void {
  const categories = (data as { points?: { categories?: unknown } } | null)?.points?.categories;
  if (typeof categories !== "object" || categories === null) return;
  for (const [name, rule] of Object.entries(categories)) {
    if (typeof rule !== "object" || rule === null) continue;
    if (typeof (rule as Record<string, unknown>).points_per_kg !== "number") continue;
    const steps = nodesAlong(doc, ["points", "categories", name, "points_per_kg"]);
    const node = steps.length === 5 ? steps[4]?.value : null;
    if (isScalar(node) && node.source !== undefined && DECIMAL_TEXT.test(node.source)) {
      (rule as Record<string, unknown>).points_per_kg = node.source;
    }
  }
}

/** The path SQLite takes for an in-memory database; never resolved. */
const IN_MEMORY = ":memory:";

function resolvePaths(config: Config, baseDir: string): Config {
  const resolve = (p: string) => path.resolve(baseDir, p);
  const mqtt = { ...config.mqtt };
  for (const key of ["ca_file", "cert_file", "key_file", "password_file"] as const) {
    const file = mqtt[key];
    if (file !== undefined) mqtt[key] = resolve(file);
  }
  const storagePath = config.storage.path === IN_MEMORY ? IN_MEMORY : resolve(config.storage.path);
  const cards = config.cards.file === undefined ? config.cards : { ...config.cards, file: resolve(config.cards.file) };
  const gpio = { ...config.gpio, simulated_dir: resolve(config.gpio.simulated_dir) };
  const station = { ...config.station, clock_sync_marker: resolve(config.station.clock_sync_marker) };
  return { ...config, station, storage: { ...config.storage, path: storagePath }, mqtt, cards, gpio };
}

/** Freezes `value` and everything reachable from it; returns it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * For a database file this user may not use: whose it is and how to give it back, when another user
 * owns it. A station started by hand as root (`sudo smartbin run`) in the service's folder leaves
 * root's 0600 files there, and the service's user then cannot open them. Empty when this user owns it.
 */
export function ownerHint(stat: Pick<Stats, "uid">, file: string): string {
  const me = process.getuid?.();
  if (me === undefined || stat.uid === me) return "";
  const owner = userNameOf(stat.uid) ?? `uid ${stat.uid}`;
  const user = userInfo().username;
  return `; it belongs to ${owner}, not to this user (${user}), as after a station was run by hand as ${owner}: give it back with chown ${user}: ${file}*`;
}

/** The name /etc/passwd gives `uid`, `null` when it has none (or cannot be read). */
function userNameOf(uid: number): string | null {
  try {
    const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.split(":")[2] === String(uid));
    return line?.split(":")[0] ?? null;
  } catch {
    return null;
  }
}
