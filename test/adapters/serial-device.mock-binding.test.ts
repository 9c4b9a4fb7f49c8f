/**
 * SerialDevice over serialport 13's own mock binding, wired the way the demo does it: this pins the
 * recipe (where MockBinding comes from, how bytes are pushed into the port the device opened).
 */
import type { BindingInterface, OpenOptions } from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import type { MockPortBinding } from "@serialport/binding-mock" with { "resolution-mode": "require" };
import { pino } from "pino";
import { SerialPortMock } from "serialport";
import { describe, expect, it } from "vitest";
import { SerialDevice } from "../../src/adapters/serial/serial-device.js";

/** serialport 13 exports MockBinding only as `SerialPortMock.binding` (typed `MockBindingInterface`). */
const MockBinding = SerialPortMock.binding;

/** MockBinding wrapped so the test (the demo's simulator) reaches the port the device opened. */
function capturingBinding(): { binding: BindingInterface; opened: Map<string, MockPortBinding> } {
  const opened = new Map<string, MockPortBinding>();
  const binding: BindingInterface = {
    list: () => MockBinding.list(),
    open: async (options: OpenOptions) => {
      const port = await MockBinding.open(options);
      opened.set(options.path, port);
      return port;
    },
  };
  return { binding, opened };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe("SerialDevice with serialport's MockBinding (the demo's wiring)", () => {
  it("opens a created mock port and delivers bytes pushed with emitData", async () => {
    const path = "/dev/mock-scale-1";
    MockBinding.createPort(path, { echo: false, record: false });
    const { binding, opened } = capturingBinding();
    const chunks: Buffer[] = [];
    const events: string[] = [];
    const device = new SerialDevice({
      id: "scale-1",
      path,
      baudRate: 9600,
      logger: pino({ level: "silent" }),
      binding,
      silenceTimeoutMs: 2_000,
      onData: (chunk) => void chunks.push(Buffer.from(chunk)),
      onOnline: () => void events.push("online"),
      onOffline: () => void events.push("offline"),
    });
    device.start();
    await until(() => opened.get(path)?.isOpen === true);
    expect(device.state()).toBe("unknown"); // streaming: open is not online until data arrives

    opened.get(path)!.emitData(Buffer.from([0x02, 0x2b, 0x30, 0x31, 0x03]));
    await until(() => chunks.length > 0);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([0x02, 0x2b, 0x30, 0x31, 0x03]));
    expect(events).toEqual(["online"]);

    await device.stop();
    expect(opened.get(path)!.isOpen).toBe(false);
  });

  it("opens the port with the character format the device's protocol asks for (default 8N1)", async () => {
    const seen: OpenOptions[] = [];
    const binding: BindingInterface = {
      list: () => MockBinding.list(),
      open: (options: OpenOptions) => {
        seen.push(options);
        return MockBinding.open(options);
      },
    };
    const open = async (path: string, format: { dataBits?: 7 | 8; parity?: "none" | "even" | "odd"; stopBits?: 1 | 2 }) => {
      MockBinding.createPort(path, { echo: false, record: false });
      const device = new SerialDevice({
        id: path,
        path,
        baudRate: 1200,
        ...format,
        logger: pino({ level: "silent" }),
        binding,
        onData: () => undefined,
      });
      device.start();
      await until(() => device.state() === "online");
      await device.stop();
    };
    await open("/dev/mock-8n1", {});
    await open("/dev/mock-7e1", { dataBits: 7, parity: "even", stopBits: 1 });
    expect(seen.map(({ path, baudRate, dataBits, parity, stopBits }) => ({ path, baudRate, dataBits, parity, stopBits }))).toEqual([
      { path: "/dev/mock-8n1", baudRate: 1200, dataBits: 8, parity: "none", stopBits: 1 },
      { path: "/dev/mock-7e1", baudRate: 1200, dataBits: 7, parity: "even", stopBits: 1 },
    ]);
  });

  it("a path never created is an open failure: offline, retried with backoff", async () => {
    const { binding } = capturingBinding();
    const events: string[] = [];
    const device = new SerialDevice({
      id: "reader-1",
      path: "/dev/mock-missing",
      baudRate: 9600,
      logger: pino({ level: "silent" }),
      binding,
      backoff: { startMs: 10, maxMs: 20 },
      onData: () => undefined,
      onOffline: (reason) => void events.push(reason),
    });
    device.start();
    await until(() => device.stats().openFailures >= 3);
    expect(events).toEqual([
      "open failed: Port does not exist - please call MockBinding.createPort('/dev/mock-missing') first",
    ]);
    await device.stop();
  });
});

describe("SerialDevice when a read ends the stream (0 bytes: the line hung up)", () => {
  it("reports the device offline as disconnected and reopens it; serialport ends the stream but emits no close", async () => {
    const path = "/dev/mock-eof-1";
    MockBinding.createPort(path, { echo: false, record: false });
    let hangUp: () => void = () => undefined;
    const hungUp = new Promise<void>((resolve) => (hangUp = resolve));
    let opens = 0;
    const binding: BindingInterface = {
      list: () => MockBinding.list(),
      open: async (options: OpenOptions) => {
        const port = await MockBinding.open(options);
        opens++;
        const read = port.read.bind(port);
        // The first port's reads end at the hang-up with 0 bytes, as a tty's read(2) can after a hangup.
        if (opens === 1) port.read = (buffer, offset, length) => Promise.race([read(buffer, offset, length), hungUp.then(() => ({ buffer, bytesRead: 0 }))]);
        return port;
      },
    };
    const events: string[] = [];
    const device = new SerialDevice({
      id: "reader-1",
      path,
      baudRate: 9600,
      logger: pino({ level: "silent" }),
      binding,
      backoff: { startMs: 10, maxMs: 50 },
      onData: () => undefined,
      onOnline: () => void events.push("online"),
      onOffline: (reason) => void events.push(`offline ${reason}`),
    });
    device.start();
    await until(() => device.state() === "online");
    hangUp();
    await until(() => device.stats().disconnects === 1);
    expect(events[1]).toMatch(/^offline disconnected: /);
    await until(() => opens === 2 && device.state() === "online");
    await device.stop();
  });
});
