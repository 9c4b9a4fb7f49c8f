/**
 * A Modbus RTU weighing transmitter through a socat pseudo-terminal (issue 9, item 6): the station
 * polls the read request on the real serialport binding, and the transmitter on the other end is
 * modbus-serial's `ServerSerial` (the slave side of a Modbus implementation that is not ours) with a
 * weight in holding registers 0-1. The station reads the weight, takes a deposit, reports the
 * transmitter's exception responses (discarded with the exception named, then offline by "no valid
 * frames" with an alarm), and is back online when the answers are. A second case plays a two-wire
 * line whose adapter echoes every request before the answer.
 */
import ModbusRTU from "modbus-serial";
import { pino } from "pino";
import type { SerialPort } from "serialport";
import { Writable } from "node:stream";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { findProtocol } from "../../src/protocol/registry.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import { closeHostPort, openHostPort } from "../support/host-port.js";
import { createPtyPair } from "../support/socat.js";
import { FakeCardReader, eventually, removeTempDirs, startCentral, writeStationConfig, type Central } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

/** An error modbus-serial's server answers with an exception response (servers/serverserial.js reads `modbusErrorCode`). */
function modbusServerError(code: number): Error {
  return Object.assign(new Error("test exception"), { modbusErrorCode: code });
}

/** A transmitter answering read requests on the host end of a pty pair, through modbus-serial's ServerSerial. */
class ServerTransmitter {
  /** The weight as the transmitter counts it: grams, i.e. kg with 3 decimals. */
  loadG = 12_340;
  /** When set, every read is answered with this exception code. */
  exception: number | null = null;
  /** Reads of the weight's first register, one per request. */
  reads = 0;

  private constructor(
    readonly pty: Awaited<ReturnType<typeof createPtyPair>>,
    private readonly server: InstanceType<typeof ModbusRTU.ServerSerial>,
  ) {}

  static async start(): Promise<ServerTransmitter> {
    const pty = await createPtyPair();
    const self: { t?: ServerTransmitter } = {};
    const vector = {
      getHoldingRegister: (address: number): number => {
        const t = self.t;
        if (t === undefined) return 0;
        if (t.exception !== null) throw modbusServerError(t.exception);
        if (address === 0) t.reads++;
        const u = t.loadG >>> 0; // int32, two's complement
        return address === 0 ? u >>> 16 : u & 0xffff;
      },
    };
    const server = await new Promise<InstanceType<typeof ModbusRTU.ServerSerial>>((resolve, reject) => {
      const s: InstanceType<typeof ModbusRTU.ServerSerial> = new ModbusRTU.ServerSerial(vector, {
        path: pty.hostPath,
        baudRate: 9600,
        unitID: 1,
        // Quiet time that ends a request (ServerSerialPipeHandler); well below the station's poll period.
        interval: 10,
        openCallback: (err?: Error | null) => (err ? reject(err) : resolve(s)),
      } as ConstructorParameters<typeof ModbusRTU.ServerSerial>[1]);
    });
    self.t = new ServerTransmitter(pty, server);
    return self.t;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.pty.dispose();
  }
}

/** A transmitter on a two-wire line whose adapter hands every request back before the answer. */
class EchoingTransmitter {
  loadG = 8_000;
  requests = 0;
  private pending = Buffer.alloc(0);
  private readonly codec = findProtocol("scale", "modbus-rtu").configure({ decimals: 3 });

  private constructor(
    readonly pty: Awaited<ReturnType<typeof createPtyPair>>,
    private readonly port: SerialPort,
  ) {
    port.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  static async start(): Promise<EchoingTransmitter> {
    const pty = await createPtyPair();
    return new EchoingTransmitter(pty, await openHostPort(pty.hostPath));
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const request = this.pending.subarray(0, 8);
      this.pending = this.pending.subarray(8);
      this.requests++;
      // The echo, then the answer, as one write: on the wire they follow each other.
      this.port.write(Buffer.concat([request, this.codec.encode({ grams: this.loadG, stable: true })]));
    }
  }

  async stop(): Promise<void> {
    await closeHostPort(this.port);
    await this.pty.dispose();
  }
}

/** A pino destination that keeps every line (JSON) for assertions. */
function logLines(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { lines, stream };
}

describe.skipIf(tools.skip)(`modbus-rtu through a pseudo-terminal${tools.reason}`, () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  let transmitter: ServerTransmitter | EchoingTransmitter | undefined;
  let reader: FakeCardReader | undefined;
  let central: Central | undefined;
  let station: Station | undefined;

  afterEach(async () => {
    await station?.stop();
    station = undefined;
    await central?.close();
    await transmitter?.stop();
    await reader?.stop();
    await broker?.dispose();
  });

  afterAll(() => removeTempDirs());

  function startStation(scalePort: string, readerPort: string, log: Writable): Station {
    const cfg = writeStationConfig({
      brokerUrl: broker!.url,
      scalePort,
      readerPort,
      scaleProtocol: "modbus-rtu",
      scaleExtra: "    decimals: 3\n    poll_ms: 100\n",
    });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const s = new Station({ config: loaded.config, logger: pino({ level: "debug" }, log) });
    s.start();
    return s;
  }

  it("reads the weight from modbus-serial's server, takes a deposit, and reports exception responses", async () => {
    broker = await startMosquitto();
    const t = await ServerTransmitter.start();
    transmitter = t;
    reader = await FakeCardReader.start();
    central = await startCentral(broker.url);
    const log = logLines();
    const s = startStation(t.pty.devicePath, reader.pty.devicePath, log.stream);
    station = s;
    const alarms = () => central!.events.filter((e) => e.json.type === "smartbin.alarm.v1").map((e) => e.json.data);

    await eventually(() => s.snapshot()?.scales["scale-1"]?.acceptedG === 12_340, 10_000, "the polled weight");
    expect(t.reads).toBeGreaterThanOrEqual(3);

    await reader.present("100086F444");
    await eventually(() => s.getStats().sessionsOpened > 0, 8_000, "session opened");
    t.loadG += 2_500;
    await eventually(() => s.getStats().deposits > 0, 8_000, "deposit committed");
    await eventually(() => central!.events.find((e) => e.json.type === "smartbin.deposit.v1"), 5_000, "the deposit at the broker");
    expect(central.events.find((e) => e.json.type === "smartbin.deposit.v1")?.json.data).toMatchObject({ net_g: 2_500, gross_after_g: 14_840 });

    // Illegal data address: each answer is discarded with the exception named, and a transmitter that
    // answers nothing else is offline by "no valid frames" (silence_timeout_s 2), with an alarm.
    const discardedBefore = s.snapshot()?.counters.devices["scale-1"]?.discarded ?? 0;
    t.exception = 2;
    await eventually(() => alarms().find((a) => a.code === "scale_offline"), 8_000, "scale_offline");
    expect(alarms().find((a) => a.code === "scale_offline")).toMatchObject({ device_id: "scale-1", reason: "no valid frames" });
    expect(s.snapshot()?.counters.devices["scale-1"]?.discarded ?? 0).toBeGreaterThan(discardedBefore + 5);
    expect(log.lines.some((l) => l.includes("frame discarded") && l.includes("Modbus exception 02 (illegal data address)"))).toBe(true);
    // The accepted weight is kept, never moved by an exception.
    expect(s.snapshot()?.scales["scale-1"]?.acceptedG).toBe(14_840);

    t.exception = null;
    await eventually(() => alarms().find((a) => a.code === "scale_online"), 5_000, "scale_online");
    expect(s.snapshot()?.scales["scale-1"]?.condition).toBe("ok");
  }, 60_000);

  it("reads the answers of a two-wire line that echoes every request", async () => {
    broker = await startMosquitto();
    const t = await EchoingTransmitter.start();
    transmitter = t;
    reader = await FakeCardReader.start();
    const log = logLines();
    const s = startStation(t.pty.devicePath, reader.pty.devicePath, log.stream);
    station = s;

    await eventually(() => s.snapshot()?.scales["scale-1"]?.acceptedG === 8_000, 10_000, "the polled weight");
    t.loadG = 9_500;
    await eventually(() => s.snapshot()?.scales["scale-1"]?.acceptedG === 9_500, 10_000, "the new weight");
    // The echoes are consumed: nothing was discarded on this line.
    expect(t.requests).toBeGreaterThanOrEqual(5);
    expect(s.snapshot()?.counters.devices["scale-1"]?.discarded).toBe(0);
  }, 40_000);
});
