/**
 * SerialDevice's reopen loop, silence detection and callbacks with a manual clock and an in-memory
 * binding (no pseudo-terminals: see serial-device.test.ts for the real binding).
 */
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  PortInfo,
  SetOptions,
} from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import { pino, type Logger } from "pino";
import { describe, expect, it } from "vitest";
import { SerialDevice, type SerialDeviceOptions } from "../../src/adapters/serial/serial-device.js";
import { ManualTimers } from "../support/manual-timers.js";
import { Liveness } from "../../src/app/liveness.js";

/** Lets promise callbacks, nextTicks and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Manual timers whose `advance` lets I/O and promise callbacks settle around each timer. */
class ManualClock extends ManualTimers {
  get pendingTimers(): number {
    return this.pending;
  }
  /** Moves time forward by `ms`, firing due timers in order and settling after each. */
  async settleFor(ms: number): Promise<void> {
    const end = this.t + ms;
    do await settle();
    while (this.fireNext(end));
    this.t = end;
    await settle();
  }
}

class CanceledError extends Error {
  readonly canceled = true;
}

/** One open port of {@link FakeBinding}: `emit` plays the device, `unplug` pulls the cable. */
class FakePort implements BindingPortInterface {
  isOpen = true;
  private buffered: Buffer[] = [];
  private waiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  constructor(readonly openOptions: Required<OpenOptions>) {}

  emit(bytes: Uint8Array): void {
    this.buffered.push(Buffer.from(bytes));
    this.wake();
  }
  unplug(): void {
    const w = this.waiter;
    this.waiter = undefined;
    // Not `canceled`: serialport treats it as a disconnect and closes the port itself.
    w?.reject(Object.assign(new Error("Input/output error"), { disconnect: true }));
  }
  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.buffered.length === 0) {
      if (!this.isOpen) throw new CanceledError("port is closed");
      await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    }
    const chunk = this.buffered.shift()!;
    const n = Math.min(length, chunk.length);
    chunk.copy(buffer, offset, 0, n);
    if (n < chunk.length) this.buffered.unshift(chunk.subarray(n));
    return { buffer, bytesRead: n };
  }
  close(): Promise<void> {
    this.isOpen = false;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(new CanceledError("port is closed"));
    return Promise.resolve();
  }
  /** What the code under test wrote, in order. */
  readonly written: string[] = [];
  /** Every `set()` the code under test made (DTR/RTS), in order. */
  readonly sets: SetOptions[] = [];
  write(buffer: Buffer): Promise<void> {
    this.written.push(buffer.toString("latin1"));
    return Promise.resolve();
  }
  async update(): Promise<void> {}
  set(options: SetOptions): Promise<void> {
    this.sets.push(options);
    return Promise.resolve();
  }
  get(): Promise<{ cts: boolean; dsr: boolean; dcd: boolean }> {
    return Promise.resolve({ cts: false, dsr: false, dcd: false });
  }
  getBaudRate(): Promise<{ baudRate: number }> {
    return Promise.resolve({ baudRate: this.openOptions.baudRate });
  }
  async flush(): Promise<void> {}
  async drain(): Promise<void> {}
  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve();
  }
}

/** An in-memory binding, made per test: `plug`/`unplug` devices, `port(path)` is the open one. */
class FakeBinding implements BindingInterface {
  private readonly present = new Set<string>();
  private readonly open_ = new Map<string, FakePort>();
  opens = 0;
  plug(path: string): void {
    this.present.add(path);
  }
  unplug(path: string): void {
    this.present.delete(path);
    this.open_.get(path)?.unplug();
  }
  port(path: string): FakePort | undefined {
    const p = this.open_.get(path);
    return p?.isOpen ? p : undefined;
  }
  list(): Promise<PortInfo[]> {
    return Promise.resolve([]);
  }
  async open(options: OpenOptions): Promise<FakePort> {
    this.opens++;
    await new Promise<void>((r) => process.nextTick(r));
    if (!this.present.has(options.path)) {
      throw new Error(`Error: No such file or directory, cannot open ${options.path}`);
    }
    if (this.port(options.path)) throw new Error("Error: Resource temporarily unavailable Cannot lock port");
    const port = new FakePort({
      dataBits: 8,
      lock: true,
      stopBits: 1,
      parity: "none",
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
      vmin: 1,
      vtime: 0,
      ...options,
    } as Required<OpenOptions>);
    this.open_.set(options.path, port);
    return port;
  }
}

/** A pino logger that keeps its JSON lines. */
function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

interface Harness {
  device: SerialDevice;
  binding: FakeBinding;
  clock: ManualClock;
  lines: Array<{ level: number; msg: string }>;
  events: string[];
  data: Buffer[];
}

const PATH = "/dev/serial/by-id/usb-fake-if00";

function harness(extra: Partial<SerialDeviceOptions> = {}): Harness {
  const binding = new FakeBinding();
  const clock = new ManualClock();
  const { logger, lines } = memoryLogger();
  const events: string[] = [];
  const data: Buffer[] = [];
  const device = new SerialDevice({
    id: "scale-1",
    path: PATH,
    baudRate: 9600,
    logger,
    binding,
    clock,
    backoff: { startMs: 100, maxMs: 1_000 },
    random: () => 0.5,
    onData: (chunk) => void data.push(Buffer.from(chunk)),
    onOnline: ({ previous }) => void events.push(`online<-${previous}`),
    onOffline: (_reason, { cause, previous }) => void events.push(`offline(${cause})<-${previous}`),
    ...extra,
  });
  return { device, binding, clock, lines, events, data };
}

describe("SerialDevice (fake binding, manual clock)", () => {
  it("a reader present at start goes online once, with no data needed", async () => {
    const h = harness();
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["online<-unknown"]);
    expect(h.device.state()).toBe("online");
    // A quiet reader is not offline, however long it stays quiet.
    await h.clock.settleFor(3_600_000);
    expect(h.events).toEqual(["online<-unknown"]);
    h.binding.port(PATH)!.emit(Uint8Array.of(0x02, 0x31, 0x03));
    await h.clock.settleFor(0);
    expect(Buffer.concat(h.data)).toEqual(Buffer.from([0x02, 0x31, 0x03]));
    await h.device.stop();
  });

  it("missing at start: offline once, error logged once, retries on the backoff schedule, then online", async () => {
    const h = harness();
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["offline(open_failed)<-unknown"]);
    expect(h.binding.opens).toBe(1);

    // random() = 0.5 → delays are half the caps: 50, 100, 200, 400, 500, 500 ms.
    const expectedDelays = [50, 100, 200, 400, 500, 500];
    for (const [i, d] of expectedDelays.entries()) {
      await h.clock.settleFor(d - 1);
      expect(h.binding.opens).toBe(i + 1);
      await h.clock.settleFor(1);
      expect(h.binding.opens).toBe(i + 2);
    }
    expect(h.events).toEqual(["offline(open_failed)<-unknown"]);
    expect(h.lines.filter((l) => l.level === 50)).toHaveLength(1);
    expect(h.lines.filter((l) => l.msg === "cannot open serial port (again)")).toHaveLength(6);
    expect(h.device.stats()).toMatchObject({ openAttempts: 7, reopenAttempts: 6, openFailures: 7 });

    h.binding.plug(PATH);
    await h.clock.settleFor(500);
    expect(h.events).toEqual(["offline(open_failed)<-unknown", "online<-offline"]);
    await h.device.stop();
  });

  it("unplugged while open: offline (disconnected), reopened by path, online again", async () => {
    const h = harness();
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    h.binding.unplug(PATH);
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["online<-unknown", "offline(disconnected)<-online"]);
    expect(h.device.stats().disconnects).toBe(1);
    // An unplugged adapter is an expected fault: one warn line with the reason, no stack trace.
    const lost = h.lines.filter((l) => l.level === 40 && String(l.msg).includes("disconnected"));
    expect(lost).toHaveLength(1);
    expect(lost[0]?.msg).toMatch(/^serial port \S+ disconnected: .+; reopening with backoff$/);
    expect(JSON.stringify(lost[0])).not.toMatch(/stack|    at /);

    await h.clock.settleFor(2_000); // a few failed reopens, no further events
    expect(h.events).toHaveLength(2);
    expect(h.binding.opens).toBeGreaterThan(3);

    h.binding.plug(PATH);
    await h.clock.settleFor(1_000);
    expect(h.events).toEqual(["online<-unknown", "offline(disconnected)<-online", "online<-offline"]);
    h.binding.port(PATH)!.emit(Buffer.from("after replug"));
    await h.clock.settleFor(0);
    expect(Buffer.concat(h.data).toString()).toBe("after replug");
    await h.device.stop();
  });

  it("backoff starts over after a connection that stayed up for maxMs", async () => {
    const h = harness();
    h.device.start();
    await h.clock.settleFor(0);
    await h.clock.settleFor(50 + 100 + 200 + 400); // four failed retries: the next cap is 1000
    h.binding.plug(PATH);
    await h.clock.settleFor(500);
    expect(h.device.state()).toBe("online");

    // Flapping (up for less than maxMs) keeps the grown backoff.
    const opensBefore = h.binding.opens;
    h.binding.unplug(PATH);
    h.binding.plug(PATH);
    await h.clock.settleFor(499);
    expect(h.binding.opens).toBe(opensBefore);
    await h.clock.settleFor(1);
    expect(h.binding.opens).toBe(opensBefore + 1);
    expect(h.device.state()).toBe("online");

    // Healthy for maxMs: the next outage retries after startMs * 0.5 again.
    await h.clock.settleFor(1_000);
    h.binding.unplug(PATH);
    h.binding.plug(PATH);
    await h.clock.settleFor(50);
    expect(h.binding.opens).toBe(opensBefore + 2);
    await h.device.stop();
  });

  it("streaming device: online on first data, offline when silent, port closed and reopened", async () => {
    const h = harness({ silenceTimeoutMs: 300 });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.events).toEqual([]); // open but no data yet: still unknown
    expect(h.device.state()).toBe("unknown");

    for (let i = 0; i < 10; i++) {
      h.binding.port(PATH)!.emit(Buffer.from("W"));
      await h.clock.settleFor(100);
    }
    expect(h.events).toEqual(["online<-unknown"]);
    expect(h.clock.pendingTimers).toBe(1); // one silence timer, re-armed, not one per chunk

    const first = h.binding.port(PATH)!;
    await h.clock.settleFor(300);
    expect(h.events).toEqual(["online<-unknown", "offline(silent)<-online"]);
    expect(first.isOpen).toBe(false);
    expect(h.device.stats().silenceTimeouts).toBe(1);

    await h.clock.settleFor(50);
    const second = h.binding.port(PATH);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    second!.emit(Buffer.from("W"));
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["online<-unknown", "offline(silent)<-online", "online<-offline"]);
    await h.device.stop();
  });

  it("streaming device silent from the start is reported offline (unknown → offline)", async () => {
    const h = harness({ silenceTimeoutMs: 300 });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(300);
    expect(h.events).toEqual(["offline(silent)<-unknown"]);
    // Keeps cycling (open, wait, close) without repeating the event.
    await h.clock.settleFor(5_000);
    expect(h.events).toEqual(["offline(silent)<-unknown"]);
    expect(h.device.stats().silenceTimeouts).toBeGreaterThan(3);
    await h.device.stop();
  });

  it("stop() cancels the retry timer and silences every callback", async () => {
    const h = harness();
    h.device.start();
    await h.clock.settleFor(0);
    await h.device.stop();
    const opens = h.binding.opens;
    h.binding.plug(PATH);
    await h.clock.settleFor(60_000);
    expect(h.binding.opens).toBe(opens);
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.events).toEqual(["offline(open_failed)<-unknown"]);
  });

  it("stop() while the open is in flight closes the port once it opens, without events", async () => {
    const h = harness();
    h.binding.plug(PATH);
    h.device.start(); // open() is pending until the next tick
    await h.device.stop();
    expect(h.binding.opens).toBe(1);
    expect(h.binding.port(PATH)).toBeUndefined();
    expect(h.events).toEqual([]);
    h.device.start(); // a stopped device stays stopped
    await h.clock.settleFor(1_000);
    expect(h.binding.opens).toBe(1);
  });

  it("a throwing callback is logged, not propagated, and the device keeps working", async () => {
    const h = harness({
      onData: () => {
        throw new Error("consumer bug");
      },
    });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    h.binding.port(PATH)!.emit(Buffer.from("x"));
    await h.clock.settleFor(0);
    expect(h.lines.some((l) => l.msg === "serial device callback threw; ignored")).toBe(true);
    expect(h.device.state()).toBe("online");
    expect(h.device.stats().bytesReceived).toBe(1);
    await h.device.stop();
  });
});

describe("SerialDevice liveness beats (systemd watchdog)", () => {
  /** A binding whose open never completes: a driver wedged in the kernel. */
  class WedgedBinding extends FakeBinding {
    override open(): Promise<FakePort> {
      return new Promise<FakePort>(() => undefined);
    }
  }

  it("an unplugged device waiting out its reopen backoff keeps turning", async () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.now());
    const h = harness({ clock, liveness: liveness.register("scale scale-1") });
    h.device.start();
    for (let i = 0; i < 20; i++) {
      await clock.settleFor(30_000);
      expect(liveness.stuck()).toEqual([]);
    }
    expect(h.binding.opens).toBeGreaterThan(10);
    await h.device.stop();
  });

  it("a quiet reader with its port open keeps turning", async () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.now());
    const binding = new FakeBinding();
    binding.plug(PATH);
    const h = harness({ clock, binding, liveness: liveness.register("reader reader-1") });
    h.device.start();
    await clock.settleFor(600_000);
    expect(h.device.state()).toBe("online");
    expect(liveness.stuck()).toEqual([]);
    await h.device.stop();
  });

  it("an open that never returns is stuck once it has waited longer than the limit", async () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.now());
    const binding = new WedgedBinding();
    binding.plug(PATH);
    const h = harness({ clock, binding, liveness: liveness.register("scale scale-1", 60_000) });
    h.device.start();
    await clock.settleFor(60_000);
    expect(liveness.stuck()).toEqual([]);
    await clock.settleFor(1);
    expect(liveness.stuck().map((s) => s.name)).toEqual(["scale scale-1"]);
  });
});

describe("serial options and polling", () => {
  it("sets the configured DTR and RTS right after every open, the unset one raised", async () => {
    const h = harness({ dtr: false });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.binding.port(PATH)?.sets).toEqual([{ brk: false, cts: false, dtr: false, rts: true }]);
    h.binding.unplug(PATH);
    h.binding.plug(PATH);
    await h.clock.settleFor(1_000);
    expect(h.binding.port(PATH)?.sets).toEqual([{ brk: false, cts: false, dtr: false, rts: true }]);
    await h.device.stop();
  });

  it("leaves the lines alone when neither is configured, and passes hupcl to the open", async () => {
    const h = harness({ hupcl: false });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.binding.port(PATH)?.sets).toEqual([]);
    expect(h.binding.port(PATH)?.openOptions.hupcl).toBe(false);
    await h.device.stop();
    const d = harness();
    d.binding.plug(PATH);
    d.device.start();
    await d.clock.settleFor(0);
    expect(d.binding.port(PATH)?.openOptions.hupcl).toBe(true);
    await d.device.stop();
  });

  it("writes the poll request at open and every everyMs while the port is open, and stops at a silence", async () => {
    const h = harness({ poll: { everyMs: 200, request: Buffer.from("SI\r\n") }, silenceTimeoutMs: 1_000 });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    const port = h.binding.port(PATH);
    expect(port?.written).toEqual(["SI\r\n"]);
    await h.clock.settleFor(600);
    expect(port?.written).toHaveLength(4);
    // No answer: silent after 1 s, the port is closed and no more requests go to it.
    await h.clock.settleFor(400);
    expect(h.events).toEqual(["offline(silent)<-unknown"]);
    const before = port?.written.length;
    await h.clock.settleFor(50);
    expect(port?.written.length).toBe(before);
    expect(h.device.stats().writes).toBeGreaterThanOrEqual(5);
    await h.device.stop();
  });

  it("goes online at the first answer and writes commands only while open", async () => {
    const h = harness({ poll: { everyMs: 200, request: Buffer.from("SI\r\n") }, silenceTimeoutMs: 1_000 });
    expect(h.device.write(Buffer.from("Z\r\n"))).toBe(false);
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(0);
    h.binding.port(PATH)?.emit(Buffer.from("S S      12.340 kg\r\n"));
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["online<-unknown"]);
    expect(h.device.write(Buffer.from("Z\r\n"))).toBe(true);
    await h.clock.settleFor(0);
    expect(h.binding.port(PATH)?.written).toEqual(["SI\r\n", "Z\r\n"]);
    await h.device.stop();
    expect(h.device.write(Buffer.from("T\r\n"))).toBe(false);
    expect(h.clock.pendingTimers).toBe(0);
  });
});

describe("a device found by its USB identity (locate) and a failing port's log", () => {
  const LABEL = "usb 0403:6001 serial A50285BI";

  it("opens the path found at every open: back as ttyUSB1 after a re-plug, found there; the path logged at info when it changes", async () => {
    let where: { path: string } | { fault: string } = { path: "/dev/ttyUSB0" };
    const h = harness({ path: LABEL, locate: () => where });
    h.binding.plug("/dev/ttyUSB0");
    h.device.start();
    await h.clock.settleFor(0);
    expect(h.events).toEqual(["online<-unknown"]);
    expect(h.binding.port("/dev/ttyUSB0")).toBeDefined();

    // Pulled: gone from sysfs, so the lookup says so; offline with that reason, logged once at error.
    where = { fault: `no serial port of ${LABEL} is plugged in` };
    h.binding.unplug("/dev/ttyUSB0");
    await h.clock.settleFor(3_000);
    expect(h.events).toEqual(["online<-unknown", "offline(disconnected)<-online"]);
    const errors = h.lines.filter((l) => l.level === 50).map((l) => l.msg);
    expect(errors).toEqual([`cannot find serial port ${LABEL}: no serial port of ${LABEL} is plugged in; retrying with backoff`]);
    expect(h.lines.filter((l) => l.msg === "cannot find serial port (again)").length).toBeGreaterThan(2);

    // Plugged back, enumerated as ttyUSB1: found and opened there.
    where = { path: "/dev/ttyUSB1" };
    h.binding.plug("/dev/ttyUSB1");
    await h.clock.settleFor(1_000);
    expect(h.events).toEqual(["online<-unknown", "offline(disconnected)<-online", "online<-offline"]);
    expect(h.binding.port("/dev/ttyUSB1")).toBeDefined();
    const found = h.lines.filter((l) => l.level === 30 && l.msg.startsWith(`${LABEL} found at`));
    expect(found.map((l) => [l.msg, (l as { previous?: unknown }).previous])).toEqual([
      [`${LABEL} found at /dev/ttyUSB0`, null],
      [`${LABEL} found at /dev/ttyUSB1`, "/dev/ttyUSB0"],
    ]);
    h.binding.port("/dev/ttyUSB1")!.emit(Buffer.from("after"));
    await h.clock.settleFor(0);
    expect(Buffer.concat(h.data).toString()).toBe("after");
    await h.device.stop();
  });

  it("ambiguous (two adapters match): offline at start with the lookup's reason, logged once however many retries, never opened", async () => {
    const reason = `ambiguous: 2 serial ports match ${LABEL} (/dev/ttyUSB1, /dev/ttyUSB2); none is chosen: give usb.serial`;
    const offline: string[] = [];
    const h = harness({ path: LABEL, locate: () => ({ fault: reason }), onOffline: (r) => void offline.push(r) });
    h.binding.plug("/dev/ttyUSB1");
    h.binding.plug("/dev/ttyUSB2");
    h.device.start();
    await h.clock.settleFor(10_000);
    expect(offline).toEqual([reason]);
    expect(h.binding.opens).toBe(0);
    expect(h.lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([`cannot find serial port ${LABEL}: ${reason}; retrying with backoff`, "serial device offline"]);
    expect(h.device.stats().openFailures).toBeGreaterThan(5);
    await h.device.stop();
  });

  it("a lookup that throws is a fault, not a crash", async () => {
    const h = harness({ path: LABEL, locate: () => { throw new Error("EIO reading sysfs"); } });
    h.device.start();
    await h.clock.settleFor(500);
    expect(h.device.state()).toBe("offline");
    expect(h.lines.filter((l) => l.level === 50)).toHaveLength(1);
    await h.device.stop();
  });

  it("an indicator that stays silent logs its silence once (warn), and its reopens at debug, not once per retry", async () => {
    const h = harness({ silenceTimeoutMs: 300 });
    h.binding.plug(PATH);
    h.device.start();
    await h.clock.settleFor(20_000);
    expect(h.device.stats().silenceTimeouts).toBeGreaterThan(10);
    const loud = h.lines.filter((l) => l.level >= 30).map((l) => l.msg);
    expect(loud).toEqual(["serial port open", "streaming device silent; closing and reopening the port", "serial device offline"]);
    // Back: online, and a later silence is a new fault, logged again.
    while (h.binding.port(PATH) === undefined) await h.clock.settleFor(10);
    h.binding.port(PATH)!.emit(Buffer.from("W"));
    await h.clock.settleFor(0);
    expect(h.device.state()).toBe("online");
    await h.clock.settleFor(400);
    expect(h.lines.filter((l) => l.msg === "streaming device silent; closing and reopening the port")).toHaveLength(2);
    await h.device.stop();
  });
});
