import { describe, expect, it } from "vitest";
import { createLogging } from "../../src/adapters/log/logger.js";
import { expectedFault, messageChain } from "../../src/adapters/log/faults.js";
import { newerSchemaError } from "../../src/adapters/outbox/schema.js";
import { SmartbinError } from "../../src/errors.js";

/** A logging setup writing JSON objects into `lines`, on a manual clock. */
function setup(opts: { level?: "info" | "warn" | "debug"; windowMs?: number } = {}) {
  const lines: Record<string, unknown>[] = [];
  let t = 0;
  const logging = createLogging({
    level: opts.level ?? "info",
    fd: 1,
    stream: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    rateLimit: { windowMs: opts.windowMs ?? 30_000, now: () => t },
  });
  return { logging, lines, advance: (ms: number) => void (t += ms) };
}

/** serialport's native open error (bindings-cpp serialport_unix.cpp): no code, strerror in the text. */
const portMissing = () => new Error("Error: No such file or directory, cannot open /dev/ttyUSB9");

describe("expected faults", () => {
  it("are recognised by errno code or by serialport's strerror text, through causes", () => {
    expect(expectedFault(portMissing())).toEqual({ code: "ENOENT", reason: "no such file or directory (ENOENT)" });
    expect(expectedFault(new Error("Error Resource temporarily unavailable Cannot lock port"))?.code).toBe("EAGAIN");
    expect(expectedFault(new Error("Error: Permission denied, cannot open /dev/ttyS0"))?.code).toBe("EACCES");
    expect(expectedFault(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1883"), { code: "ECONNREFUSED" }))?.reason).toBe("connection refused (ECONNREFUSED)");
    expect(expectedFault(new SmartbinError("SERIAL_OPEN_FAILED", "cannot open", {}, { cause: portMissing() }))?.code).toBe("ENOENT");
    // A database from a newer version (a rollback too far): a condition of the field, said without a stack.
    expect(expectedFault(newerSchemaError("/var/lib/smartbin/smartbin.db", 9))).toEqual({
      code: "NEWER_SCHEMA",
      reason: "the outbox database was written by a newer smartbin-edge (NEWER_SCHEMA)",
    });
    expect(expectedFault(new SmartbinError("OUTBOX_OPEN_FAILED", "cannot open", { reason: "other" }))).toBeUndefined();
    expect(expectedFault(new TypeError("x is undefined"))).toBeUndefined();
    expect(expectedFault("ENOENT")).toBeUndefined();
  });

  it("messageChain never says 'Error: Error:' and drops repeats", () => {
    const e = new SmartbinError("SERIAL_OPEN_FAILED", "cannot open serial port /dev/ttyUSB9", {}, { cause: portMissing() });
    expect(messageChain(e)).toBe("cannot open serial port /dev/ttyUSB9: No such file or directory, cannot open /dev/ttyUSB9");
    expect(messageChain(new Error("a: b", { cause: new Error("b") }))).toBe("a: b");
  });

  it("are logged without a stack; other errors keep theirs", () => {
    const { logging, lines } = setup();
    const log = logging.logger.child({ module: "scale" });
    log.error({ err: new SmartbinError("SERIAL_OPEN_FAILED", "cannot open serial port /dev/ttyUSB9", { path: "/dev/ttyUSB9" }, { cause: portMissing() }) }, "port");
    log.error({ err: new TypeError("x is undefined") }, "bug");
    const [fault, bug] = lines;
    expect(fault?.err).toEqual({
      type: "SmartbinError",
      message: "cannot open serial port /dev/ttyUSB9: No such file or directory, cannot open /dev/ttyUSB9",
      code: "SERIAL_OPEN_FAILED",
      fault: "ENOENT",
      context: { path: "/dev/ttyUSB9" },
    });
    expect(JSON.stringify(fault)).not.toContain("Error: Error");
    expect((bug?.err as { stack?: string }).stack).toContain("TypeError: x is undefined");
  });
});

describe("rate limit of repeating warnings and errors", () => {
  it("writes the same message of the same logger once per window, then with the count suppressed", () => {
    const { logging, lines, advance } = setup({ windowMs: 1000 });
    const scale1 = logging.logger.child({ module: "scale", device: "scale-1" });
    const scale2 = logging.logger.child({ module: "scale", device: "scale-2" });
    for (let i = 0; i < 5; i++) {
      scale1.error({ attempt: i }, "cannot open serial port");
      scale2.error("cannot open serial port");
      advance(100);
    }
    scale1.warn("another message"); // another message: its own key
    expect(lines.map((l) => [l.device, l.msg, l.suppressed])).toEqual([
      ["scale-1", "cannot open serial port", undefined],
      ["scale-2", "cannot open serial port", undefined],
      ["scale-1", "another message", undefined],
    ]);
    advance(600); // 1100 ms after the first
    scale1.error({ attempt: 9 }, "cannot open serial port");
    scale2.error("cannot open serial port");
    expect(lines.slice(3).map((l) => [l.device, l.attempt, l.suppressed])).toEqual([
      ["scale-1", 9, 4],
      ["scale-2", undefined, 4],
    ]);
    advance(1000);
    scale1.error("cannot open serial port");
    expect(lines[5]?.suppressed).toBeUndefined();
  });

  it("the same message with another error is another line (a second invalid config says its own problems); the same error is still limited", () => {
    const { logging, lines } = setup({ windowMs: 30_000 });
    const run = logging.logger.child({ module: "run" });
    run.error({ err: new Error("c.yaml:3:5: scales.0.capacity_g: expected integer") }, "configuration reload failed");
    run.error({ err: new Error("c.yaml:1:1: (file): cannot read: no such file or directory (ENOENT)") }, "configuration reload failed");
    run.error({ err: new Error("c.yaml:1:1: (file): cannot read: no such file or directory (ENOENT)") }, "configuration reload failed");
    expect(lines.map((l) => (l.err as { message: string }).message)).toEqual([
      "c.yaml:3:5: scales.0.capacity_g: expected integer",
      "c.yaml:1:1: (file): cannot read: no such file or directory (ENOENT)",
    ]);
  });

  it("never drops info or debug lines", () => {
    const { logging, lines } = setup({ level: "debug" });
    for (let i = 0; i < 3; i++) logging.logger.info("same");
    for (let i = 0; i < 3; i++) logging.logger.debug("same");
    expect(lines).toHaveLength(6);
  });
});

describe("run-time level", () => {
  it("setLevel reaches children made before and after", () => {
    const { logging, lines } = setup({ level: "info" });
    const before = logging.logger.child({ module: "a" });
    const grandchild = before.child({ device: "d" });
    before.debug("hidden");
    logging.setLevel("debug");
    expect(logging.level()).toBe("debug");
    const after = logging.logger.child({ module: "b" });
    before.debug("one");
    grandchild.debug("two");
    after.debug("three");
    logging.setLevel("info");
    grandchild.debug("hidden again");
    expect(lines.map((l) => l.msg)).toEqual(["one", "two", "three"]);
  });
});
