/**
 * Level sensors through the runner (src/app/runner.ts): bytes from the sensor's port go through
 * its protocol's framer into the machine, and the full state each source last reported is read
 * back from the database's `meta` at start (`bins_full`, `bins_full_by`), so a restart with the bin
 * still full repeats no `bin_full`, and the `bin_ok` that follows stores the sources again.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { StationRunner, type DeviceHandlers, type OutboxPort } from "../../src/app/runner.js";
import { encodeDypA02, findProtocol } from "../../src/protocol/index.js";
import { ManualClock } from "../support/manual-clock.js";
import { testContext } from "../support/machine.js";

/** What the runner committed, and the `meta` table it reads at start. */
function memoryOutbox(meta: Record<string, string>): OutboxPort & { codes: string[]; meta(key: string): string | null } {
  const codes: string[] = [];
  return {
    codes,
    commit(batch) {
      for (const e of batch.events) if (e.kind === "alarm") codes.push(String(e.data.code));
      Object.assign(meta, batch.meta ?? {});
      return batch.events.map((_, i) => ({ seq: codes.length + i }));
    },
    openSessions: () => [],
    meta: (key) => meta[key] ?? null,
  };
}

function levelStation(meta: Record<string, string>) {
  const clock = new ManualClock();
  const outbox = memoryOutbox(meta);
  let handlers: DeviceHandlers | undefined;
  const runner = new StationRunner({
    context: testContext({
      levelSensors: [{ id: "level-1", binId: "kitchen", emptyMm: 1200, fullMm: 250, medianWindowMs: 1000, noValidFramesMs: 5000 }],
    }),
    devices: [
      {
        kind: "level",
        id: "level-1",
        framer: findProtocol("level", "dyp-a02").configure().createFramer(),
        open: (h) => {
          handlers = h;
          return { start: () => undefined, stop: () => Promise.resolve() };
        },
      },
    ],
    adapters: { outbox, publisher: { notify: () => undefined, publishStatus: () => undefined }, logger: pino({ level: "silent" }), newId: () => "id" },
    clock,
  });
  /** The sensor reads `mm` for `ms`, a frame every 100 ms, each split in two chunks. */
  const reads = (mm: number, ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      const frame = encodeDypA02(mm);
      handlers!.onData(frame.subarray(0, 1));
      handlers!.onData(frame.subarray(1));
      clock.advance(100);
    }
  };
  return { runner, outbox, reads, open: () => handlers!.onOpen() };
}

describe("level sensors through the runner", () => {
  it("a bin stored full by its sensor stays full after a restart without a second bin_full; bin_ok when the sensor sees it emptied", () => {
    const meta: Record<string, string> = { bins_full: JSON.stringify({ kitchen: true }), bins_full_by: JSON.stringify({ kitchen: { level: true } }) };
    const s = levelStation(meta);
    s.runner.start();
    s.open();
    s.reads(240, 2000);
    expect(s.outbox.codes).toEqual([]);
    expect(s.runner.snapshot().levels?.["level-1"]).toMatchObject({ medianMm: 240, fillPercent: 100 });
    expect(s.runner.stats().levelFrames).toBe(20);
    s.reads(1100, 2000);
    expect(s.outbox.codes).toEqual(["bin_ok"]);
    expect(JSON.parse(meta.bins_full_by!)).toEqual({ kitchen: { level: false } });
    expect(JSON.parse(meta.bins_full!)).toEqual({ kitchen: false });
  });

  it("without stored state, the same readings are one bin_full", () => {
    const s = levelStation({});
    s.runner.start();
    s.open();
    s.reads(240, 2000);
    expect(s.outbox.codes).toEqual(["bin_full"]);
  });
});
