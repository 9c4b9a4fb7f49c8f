/**
 * An MT-SICS balance through a socat pseudo-terminal (issue 9, item 6): the station polls `SI` on
 * the real serialport binding, a simulated balance on the other end answers each request, the
 * station reads the weight by polling, takes a deposit, and a zero request goes out through the port.
 */
import { SerialPort } from "serialport";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import { createPtyPair } from "../support/socat.js";
import { FakeCardReader, eventually, removeTempDirs, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

/** A balance that answers MT-SICS requests on the host end of a pty pair. */
class FakeBalance {
  loadG = 12_340;
  readonly requests: string[] = [];
  private pending = "";
  private constructor(
    readonly pty: Awaited<ReturnType<typeof createPtyPair>>,
    private readonly port: SerialPort,
  ) {
    port.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  static async start(): Promise<FakeBalance> {
    const pty = await createPtyPair();
    const port = new SerialPort({ path: pty.hostPath, baudRate: 9600, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    return new FakeBalance(pty, port);
  }

  /** The weight as the balance shows it: kg, 3 decimals, right-aligned in an 11-character field. */
  private weight(): string {
    return `${(this.loadG / 1000).toFixed(3).padStart(11)} kg`;
  }

  private onData(chunk: Buffer): void {
    this.pending += chunk.toString("latin1");
    let end: number;
    while ((end = this.pending.indexOf("\r\n")) >= 0) {
      const request = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      this.requests.push(request);
      const answer = request === "SI" ? `S S${this.weight()}` : request === "Z" ? "Z A" : request === "T" ? `T S${this.weight()}` : "ES";
      this.port.write(`${answer}\r\n`);
    }
  }

  async stop(): Promise<void> {
    if (this.port.isOpen) await new Promise<void>((resolve) => this.port.close(() => resolve()));
    await this.pty.dispose();
  }
}

describe.skipIf(tools.skip)(`mt-sics through a pseudo-terminal${tools.reason}`, () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  let balance: FakeBalance | undefined;
  let reader: FakeCardReader | undefined;
  let station: Station | undefined;

  afterEach(async () => {
    await station?.stop();
    station = undefined;
    await balance?.stop();
    await reader?.stop();
    await broker?.dispose();
  });

  afterAll(() => removeTempDirs());

  it("reads the weight by polling SI, takes a deposit, and sends a zero request through the port", async () => {
    broker = await startMosquitto();
    balance = await FakeBalance.start();
    reader = await FakeCardReader.start();
    const cfg = writeStationConfig({
      brokerUrl: broker.url,
      scalePort: balance.pty.devicePath,
      readerPort: reader.pty.devicePath,
      scaleProtocol: "mt-sics",
      scaleExtra: "    poll_ms: 50\n",
    });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    station = new Station({ config: loaded.config, logger: pino({ level: "silent" }) });
    expect(station.scaleCommand("scale-1", "zero")).toBe("not_open");
    station.start();
    const s = station;
    const b = balance;

    await eventually(() => s.snapshot()?.scales["scale-1"]?.acceptedG === 12_340, 10_000, "the polled weight");
    expect(b.requests.filter((r) => r === "SI").length).toBeGreaterThanOrEqual(3);

    await reader.present("100086F444");
    await eventually(() => s.getStats().sessionsOpened > 0, 8_000, "session opened");
    b.loadG += 2_500;
    await eventually(() => s.getStats().deposits > 0, 8_000, "deposit committed");

    expect(s.scaleCommand("scale-1", "zero")).toBe("sent");
    await eventually(() => b.requests.includes("Z"), 5_000, "the zero request at the balance");
    expect(s.scaleCommand("scale-1", "tare")).toBe("sent");
    await eventually(() => b.requests.includes("T"), 5_000, "the tare request at the balance");
    expect(s.scaleCommand("scale-2", "zero")).toBe("unknown_scale");
    // The answers to Z and T are no weights: the accepted weight is still the polled one.
    expect(s.snapshot()?.scales["scale-1"]?.acceptedG).toBe(14_840);
    expect(s.snapshot()?.scales["scale-1"]?.condition).toBe("ok");
  }, 40_000);
});
