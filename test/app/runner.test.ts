/**
 * The whole station, driven through its runner with fakes for every adapter and a manual clock:
 * real framers and the real machine, no sleeps, no ports, no database.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { StationRunner, type ConfigCards, type DeviceHandlers, type OutboxPort, type RunnerDevice } from "../../src/app/runner.js";
import type { SpillOf } from "../../src/app/event-recorder.js";
import { earnedOn } from "../../src/domain/daily-points.js";
import { SmartbinError } from "../../src/errors.js";
import { encodeEm4100, encodeStGs, findProtocol } from "../../src/protocol/index.js";
import { ManualClock } from "../support/manual-clock.js";
import { testContext } from "../support/machine.js";

type Committed = { kind: string; subject: string; data: Record<string, unknown> };
type Batch = Parameters<OutboxPort["commit"]>[0];

/**
 * An outbox in memory: events with seqs and their times, the stored sessions, `meta`, a spill file,
 * and switches that make commits fail (`failing`: a fault; `busy`: another process's lock).
 */
class FakeOutbox implements OutboxPort {
  events: Array<Committed & { seq: number; time: string | undefined }> = [];
  sessions = new Map<string, unknown>();
  metaRows = new Map<string, string>();
  spillFile: SpillOf | null = null;
  commits = 0;
  failing = false;
  busy = false;
  commit(batch: Batch) {
    this.commits++;
    if (this.busy) throw new SmartbinError("OUTBOX_COMMIT_FAILED", "database is locked", { reason: "busy" });
    if (this.failing) throw new Error("disk I/O error");
    const out = batch.events.map((e) => ({ ...e, seq: this.events.length + 1, time: batch.time }));
    for (const e of out) this.events.push(e);
    if (batch.session?.op === "put") this.sessions.set(batch.session.id, JSON.parse(JSON.stringify(batch.session.state)));
    if (batch.session?.op === "delete") this.sessions.delete(batch.session.id);
    for (const [k, v] of Object.entries(batch.meta ?? {})) {
      if (v === null) this.metaRows.delete(k);
      else this.metaRows.set(k, v);
    }
    return out.map((e) => ({ seq: e.seq }));
  }
  commitSpill(spill: SpillOf) {
    if (this.busy) throw new SmartbinError("OUTBOX_COMMIT_FAILED", "database is locked", { reason: "busy" });
    const stored = spill.batches.map((b) => this.commit(b));
    this.spillFile = null;
    return stored;
  }
  spill(batches: SpillOf["batches"]) {
    this.spillFile = { id: `spill-${batches.length}`, batches: JSON.parse(JSON.stringify(batches)) as SpillOf["batches"] };
    return "/fake/station.db.spill";
  }
  spilled() {
    return this.spillFile;
  }
  meta(key: string) {
    return this.metaRows.get(key) ?? null;
  }
  metaEntries(prefix: string) {
    return [...this.metaRows].filter(([key]) => key.startsWith(prefix)).map(([key, value]) => ({ key, value }));
  }
  openSessions() {
    return [...this.sessions].map(([id, state]) => ({ id, state }));
  }
}

class FakePort {
  handlers: DeviceHandlers | undefined;
  started = false;
  stopped = false;
}

function station(outbox = new FakeOutbox(), extra: { stopCommitMs?: number; cards?: ConfigCards; newFramers?: boolean } = {}) {
  const { newFramers, ...runnerExtra } = extra;
  const clock = new ManualClock();
  const ports = { "scale-1": new FakePort(), "scale-2": new FakePort(), "reader-1": new FakePort(), "reader-2": new FakePort() };
  const open = (id: keyof typeof ports) => (handlers: DeviceHandlers) => {
    const port = ports[id];
    port.handlers = handlers;
    return {
      start: () => {
        port.started = true;
      },
      stop: () => {
        port.stopped = true;
        return Promise.resolve();
      },
    };
  };
  const scaleFramer = () => findProtocol("scale", "ascii-st-gs").configure().createFramer();
  const readerFramer = () => findProtocol("reader", "em4100-ascii").configure().createFramer();
  const devices: RunnerDevice[] = [
    { kind: "scale", id: "scale-1", framer: scaleFramer(), ...(newFramers === true ? { newFramer: scaleFramer } : {}), open: open("scale-1") },
    { kind: "scale", id: "scale-2", framer: scaleFramer(), open: open("scale-2") },
    { kind: "reader", id: "reader-1", framer: readerFramer(), open: open("reader-1") },
    { kind: "reader", id: "reader-2", framer: readerFramer(), open: open("reader-2") },
  ];
  let statusPublishes = 0;
  let notified = 0;
  let n = 0;
  const base = testContext();
  // Indicators stream at 20 Hz here: the config's default stability window (1 s, 3 samples).
  const stability = { windowMs: 1000, minSamples: 3, toleranceG: 20 };
  const runner = new StationRunner({
    context: { ...base, scales: base.scales.map((sc) => ({ ...sc, stability })) },
    devices,
    adapters: {
      outbox,
      publisher: {
        notify: () => void notified++,
        publishStatus: () => void statusPublishes++,
      },
      logger: pino({ level: "silent" }),
      newId: () => `0190f1a2-0000-7000-8000-${String(++n).padStart(12, "0")}`,
    },
    clock,
    ...runnerExtra,
  });
  /** The indicator on `id` shows `grams` for `ms`, a frame every 50 ms. */
  const show = (id: "scale-1" | "scale-2", grams: number, ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      ports[id].handlers!.onData(encodeStGs({ stable: true, mode: "gross", grams }));
      clock.advance(50);
    }
  };
  /** A tag in reader-1's field for `ms` (a frame every 50 ms). */
  const present = (tagHex: string, ms: number) => {
    for (let t = 0; t < ms; t += 50) {
      ports["reader-1"].handlers!.onData(encodeEm4100(tagHex));
      clock.advance(50);
    }
  };
  const openAll = () => {
    for (const p of Object.values(ports)) p.handlers!.onOpen();
  };
  return { runner, clock, ports, outbox, show, present, openAll, counts: () => ({ statusPublishes, notified }) };
}

describe("StationRunner with fakes and a manual clock", () => {
  it("turns serial bytes into a committed deposit, its session row put and then deleted in the same commit", () => {
    const s = station();
    s.runner.start();
    expect(Object.values(s.ports).every((p) => p.started)).toBe(true);
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.show("scale-2", 3000, 1200);
    s.present("100086F444", 300);
    expect(s.runner.snapshot().session.phase).toBe("open");
    expect(s.outbox.sessions.size).toBe(1);
    s.show("scale-1", 13_250, 1500);
    s.clock.advance(6000);
    expect(s.outbox.events.map((e) => [e.kind, e.data.net_g, e.data.points, e.data.close_reason])).toEqual([["deposit", 1250, 2, "idle"]]);
    expect(s.outbox.events[0]!.data.card_id).toBe("0008844356");
    expect(s.outbox.sessions.size).toBe(0);
    expect(s.counts().notified).toBe(1);
  });

  it("a port reopened after an unplug starts a new framer: a frame cut by the unplug never joins the first bytes after it", () => {
    for (const newFramers of [true, false]) {
      const s = station(new FakeOutbox(), { newFramers });
      s.runner.start();
      s.openAll();
      s.show("scale-1", 12_000, 1200);
      const before = s.runner.stats().scaleFrames;
      // Unplugged halfway through a frame; the first bytes after the re-plug are the end of another one.
      s.ports["scale-1"].handlers!.onData(new TextEncoder().encode("ST,GS,+00"));
      s.ports["scale-1"].handlers!.onClose("disconnected");
      s.clock.advance(2000);
      s.ports["scale-1"].handlers!.onOpen();
      s.ports["scale-1"].handlers!.onData(new TextEncoder().encode("99.00kg\r\n"));
      // Joined, the halves would be a 99 kg frame from the indicator.
      expect(s.runner.stats().scaleFrames - before, `newFramer given: ${newFramers}`).toBe(newFramers ? 0 : 1);
    }
  });

  it("an all-zero tag is noise: no session, counted", () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("0000000000", 500);
    s.present("FFFFFFFFFF", 500);
    expect(s.runner.snapshot().session.phase).toBe("idle");
    expect(s.runner.stats().noiseFrames).toBeGreaterThan(10);
  });

  it("the status command's frame counters count valid frames only; discarded and noise frames have their own", () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1000); // 20 frames
    // Two lines no ascii-st-gs frame can be: each is discarded at its line end.
    s.ports["scale-1"].handlers!.onData(new TextEncoder().encode("garbage one\r\ngarbage two\r\n"));
    s.present("0000000000", 500); // 10 noise frames
    s.present("100086F444", 250); // 5 valid frames
    const stats = s.runner.stats();
    expect(stats).toMatchObject({ scaleFrames: 20, readerFrames: 5, noiseFrames: 10 });
    expect(stats.discardedFrames).toBeGreaterThanOrEqual(1);
    // The same count as telemetry's valid_frames for each device.
    expect(s.runner.deviceFrames()["scale-1"]!.valid).toBe(20);
    expect(s.runner.deviceFrames()["reader-1"]!.valid).toBe(5);
  });

  it("a reload that reopens a device keeps its frame counters: the status command's and telemetry's both count since start", async () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1000); // 20 frames
    s.present("0000000000", 500); // 10 noise frames
    await s.runner.reconfigure(s.runner["context"], s.runner["devices"], new Set(["scale-1", "reader-1"]));
    s.openAll();
    s.show("scale-1", 12_000, 500); // 10 more
    expect(s.runner.stats()).toMatchObject({ scaleFrames: 30, noiseFrames: 10 });
    expect(s.runner.deviceFrames()["scale-1"]!.valid).toBe(30);
  });

  it("a storage fault refuses new sessions, keeps the deposit in order, and commits it when storage is back", () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("100086F444", 300);
    s.show("scale-1", 13_250, 1500);
    s.outbox.failing = true;
    s.clock.advance(6000);
    expect(s.outbox.events).toEqual([]);
    expect(s.runner.statusFields().storage.state).toBe("fault");
    s.clock.advance(1000);
    s.present("13005D1DA5", 300);
    expect(s.runner.snapshot().session.phase).toBe("idle");
    s.outbox.failing = false;
    s.clock.advance(5000);
    expect(s.outbox.events.map((e) => e.kind)).toEqual(["deposit"]);
    expect(s.outbox.sessions.size).toBe(0);
    expect(s.runner.statusFields().storage.state).toBe("ok");
  });

  it("recovers a session stored by a crash and closes it once its scales are back", () => {
    const first = station();
    first.runner.start();
    first.openAll();
    first.show("scale-1", 12_000, 1200);
    first.show("scale-2", 3000, 1200);
    first.present("100086F444", 300);
    first.show("scale-1", 13_250, 1500);
    // SIGKILL here: no stop(), the stored row stays.
    const again = station(first.outbox);
    again.runner.start();
    expect(again.runner.snapshot().session.phase).toBe("recovering");
    again.openAll();
    again.show("scale-1", 13_250, 1200);
    again.present("13005D1DA5", 300); // refused while recovering
    again.show("scale-2", 3000, 1200);
    expect(first.outbox.events.map((e) => [e.kind, e.data.net_g, e.data.close_reason])).toEqual([["deposit", 1250, "restart"]]);
    expect(first.outbox.sessions.size).toBe(0);
    expect(again.runner.snapshot().session.phase).toBe("idle");
  });

  it("stop() closes the open session with reason shutdown, stops every port and cancels its timers", async () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("100086F444", 300);
    s.show("scale-1", 12_500, 1500);
    await s.runner.stop();
    expect(s.outbox.events.map((e) => [e.data.net_g, e.data.close_reason])).toEqual([[500, "shutdown"]]);
    expect(Object.values(s.ports).every((p) => p.stopped)).toBe(true);
    expect(s.clock.liveTimers()).toBe(0);
  });

  it("stop() while a bag is still settling waits for it: the deposit has the bag, the ports are stopped after", async () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("100086F444", 300);
    s.show("scale-1", 13_250, 300); // the bag landed 300 ms ago: the 1 s window is not stable yet
    const stopping = s.runner.stop();
    expect(s.outbox.events).toEqual([]);
    expect(s.ports["scale-1"].stopped).toBe(false);
    s.show("scale-1", 13_250, 1000); // it settles during the wait
    await stopping;
    expect(s.outbox.events.map((e) => [e.data.net_g, e.data.close_reason])).toEqual([[1250, "shutdown"]]);
    expect(s.outbox.sessions.size).toBe(0);
    expect(Object.values(s.ports).every((p) => p.stopped)).toBe(true);
    expect(s.clock.liveTimers()).toBe(0);
  });

  it("stop() with a scale that never settles leaves the session stored after settleWaitMs; the next start measures it", async () => {
    const outbox = new FakeOutbox();
    const s = station(outbox);
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("100086F444", 300);
    s.show("scale-1", 13_250, 300);
    const stopping = s.runner.stop();
    // The indicator keeps swinging through the whole wait (2.5 s).
    for (let t = 0; t < 2600; t += 50) {
      s.ports["scale-1"].handlers!.onData(encodeStGs({ stable: false, mode: "gross", grams: 13_250 + (t % 100) }));
      s.clock.advance(50);
    }
    await stopping;
    expect(outbox.events).toEqual([]);
    expect(outbox.sessions.size).toBe(1);

    const next = station(outbox);
    next.runner.start();
    next.openAll();
    next.show("scale-1", 13_250, 1200);
    next.show("scale-2", 0, 1200);
    expect(outbox.events.map((e) => [e.data.net_g, e.data.close_reason])).toEqual([[1250, "restart"]]);
    expect(outbox.sessions.size).toBe(0);
  });

  it("publishes the status when a device changes state, not for every frame", () => {
    const s = station();
    s.runner.start();
    s.openAll();
    const afterOpen = s.counts().statusPublishes;
    expect(afterOpen).toBeGreaterThanOrEqual(4);
    s.show("scale-1", 12_000, 3000);
    expect(s.counts().statusPublishes - afterOpen).toBe(1); // no_reading -> ok
  });

  it("storage busy: status busy, a card still opens a session, its writes wait in order and commit on the retry timer; no alarm", () => {
    const s = station();
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.show("scale-2", 3000, 1200);
    s.outbox.busy = true;
    s.present("100086F444", 300);
    expect(s.runner.snapshot().session.phase).toBe("open");
    expect(s.runner.statusFields().storage.state).toBe("busy");
    expect(s.outbox.sessions.size).toBe(0); // its row waits
    s.show("scale-1", 13_250, 1500);
    s.show("scale-1", 13_250, 6000); // the scales keep reading; the session closes
    expect(s.runner.snapshot().session.phase).toBe("idle");
    expect(s.outbox.events).toEqual([]);
    expect(s.counts().notified).toBe(0); // nothing acknowledged before its commit
    const tries = s.outbox.commits;
    expect(tries).toBeGreaterThan(5); // retried on a timer meanwhile, backing off
    expect(tries).toBeLessThan(60);
    s.outbox.busy = false;
    s.clock.advance(250);
    expect(s.outbox.events.map((e) => [e.kind, e.data.net_g])).toEqual([["deposit", 1250]]);
    expect(s.outbox.events[0]!.time).toMatch(/^2026-11-29T14:36:\d\d\.\d{3}Z$/); // stamped when recorded
    expect(s.outbox.sessions.size).toBe(0); // put, then deleted with the deposit: in order
    expect(s.runner.statusFields().storage.state).toBe("ok");
    expect(s.runner.stats().alarms).toBe(0);
  });

  it("storage alarms once per crossing, across restarts: the level is stored with the alarm", () => {
    const MIB = 1_048_576;
    const m = (usedMb: number) => ({ usedBytes: usedMb * MIB, budgetBytes: 100 * MIB, freeBytes: 10_000 * MIB, floorBytes: 64 * MIB });
    const s = station();
    s.runner.start();
    s.runner.storageSpace(m(92));
    s.runner.storageSpace(m(95));
    expect(s.outbox.events.map((e) => e.data.code)).toEqual(["storage_nearly_full"]);
    expect(s.outbox.metaRows.get("storage_alarm")).toBe("nearly_full");
    expect(s.runner.statusFields().storage.space).toBe("nearly_full");

    const again = station(s.outbox); // a restart, still nearly full: no second alarm
    again.runner.start();
    again.runner.storageSpace(m(93));
    expect(s.outbox.events.map((e) => e.data.code)).toEqual(["storage_nearly_full"]);
    again.runner.storageSpace(m(70));
    expect(s.outbox.events.map((e) => e.data.code)).toEqual(["storage_nearly_full", "storage_ok"]);
    expect(s.outbox.metaRows.get("storage_alarm")).toBe("ok");

    const third = station(s.outbox);
    third.runner.start();
    third.runner.storageSpace(m(60));
    expect(s.outbox.events).toHaveLength(2);
  });

  it("stop() while busy retries for stopCommitMs, then spills the waiting batches; the next start commits them first and recovers no closed session", async () => {
    const s = station(new FakeOutbox(), { stopCommitMs: 500 });
    s.runner.start();
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.outbox.busy = true;
    s.present("100086F444", 300);
    s.show("scale-1", 12_800, 1500);
    const stopping = s.runner.stop();
    for (let i = 0; i < 30; i++) {
      await Promise.resolve();
      s.clock.advance(50);
    }
    await stopping;
    expect(s.outbox.events).toEqual([]);
    const spill = s.outbox.spillFile!;
    expect(spill.batches.map((b) => b.session?.op)).toEqual(["put", "put", "delete"]);
    expect(spill.batches.at(-1)!.events.map((e) => [e.kind, e.data.net_g, e.data.close_reason])).toEqual([["deposit", 800, "shutdown"]]);
    expect(s.clock.liveTimers()).toBe(0);

    s.outbox.busy = false;
    const next = station(s.outbox);
    next.runner.start();
    expect(s.outbox.events.map((e) => [e.seq, e.kind])).toEqual([[1, "deposit"]]);
    expect(s.outbox.spillFile).toBeNull();
    expect(next.runner.snapshot().session.phase).toBe("idle"); // closed in the spill: not recovered
    expect(next.counts().notified).toBe(1); // acknowledged (published) only now, after its commit
  });

  it("a spill whose session was still open at shutdown is recovered at the next start, even while storage is busy", () => {
    const outbox = new FakeOutbox();
    outbox.spillFile = {
      id: "x",
      batches: [
        {
          time: "2026-11-29T14:35:00.000Z",
          events: [],
          session: { op: "put", id: "s-1", state: { version: 1, session_id: "s-1", card_id: "0008844356", reader_id: "reader-1", started_wall: Date.parse("2026-11-29T14:35:00.000Z"), bins: [{ bin_id: "kitchen", baseline_g: 12_000 }], last_change_wall: null } },
        },
      ],
    };
    outbox.busy = true;
    const s = station(outbox);
    s.runner.start();
    expect(s.runner.snapshot().session.phase).toBe("recovering");
    expect(s.runner.waitingBatches()).toBe(1);
    outbox.busy = false;
    s.clock.advance(100);
    expect(outbox.sessions.has("s-1")).toBe(true);
    expect(outbox.spillFile).toBeNull();
  });

  it("a wall clock jumping back changes nothing in session timing or seq order (timers run on the monotonic clock)", () => {
    /** One idle-closed deposit, then a session that times out; `jump` steps the wall clock back inside each. */
    const run = (jump: (clock: ManualClock) => void) => {
      const s = station();
      s.runner.start();
      s.openAll();
      s.show("scale-1", 12_000, 1200);
      s.show("scale-2", 3000, 1200);
      s.present("100086F444", 300);
      jump(s.clock);
      s.show("scale-1", 13_250, 1500);
      jump(s.clock);
      const recordedAt: number[] = [];
      const advanceUntil = (events: number) => {
        for (let t = 0; t < 60_000 && s.outbox.events.length < events; t += 10) s.clock.advance(10);
        recordedAt.push(s.clock.mono());
      };
      advanceUntil(1);
      s.present("100086F444", 300); // no bag: first_deposit_timeout, no event; then a bag after it
      jump(s.clock);
      s.clock.advance(31_000);
      s.present("100086F444", 300);
      s.show("scale-2", 4000, 1500);
      jump(s.clock);
      advanceUntil(2);
      return { recordedAt, events: s.outbox.events, sessions: s.runner.stats().sessionsOpened };
    };
    const steady = run(() => undefined);
    const jumped = run((clock) => clock.jumpWall(-3_600_000));
    expect(steady.events.map((e) => [e.seq, e.kind, e.data.bin_id, e.data.net_g, e.data.close_reason])).toEqual([
      [1, "deposit", "kitchen", 1250, "idle"],
      [2, "deposit", "recycle", 1000, "idle"],
    ]);
    expect(jumped.recordedAt).toEqual(steady.recordedAt);
    expect(jumped.sessions).toBe(steady.sessions);
    expect(jumped.events.map((e) => [e.seq, e.kind, e.data.bin_id, e.data.net_g, e.data.close_reason])).toEqual(
      steady.events.map((e) => [e.seq, e.kind, e.data.bin_id, e.data.net_g, e.data.close_reason]),
    );
    // Only the stamps differ: the session ended an hour "before" it started, on the wall clock.
    expect(Date.parse(jumped.events[0]!.data.ended_at as string)).toBeLessThan(Date.parse(jumped.events[0]!.data.started_at as string));
  });
});

describe("the daily cap's count at start (src/domain/daily-points.ts)", () => {
  const ANNA = "0008844356";
  const day = "2026-11-29"; // the manual clock's (UTC: the test context has no time zone)
  const cardRow = (d: string, points: number) => JSON.stringify({ day: d, points });

  it("takes the latest day's card rows over an earlier version's whole-day row, deletes stale and malformed rows, and a deposit writes its card's row", () => {
    const outbox = new FakeOutbox();
    outbox.metaRows.set("daily_points", JSON.stringify({ day, points: { [ANNA]: 2, "0000000042": 6 } }));
    outbox.metaRows.set(`daily_points/${ANNA}`, cardRow(day, 3));
    outbox.metaRows.set("daily_points/0000000001", cardRow("2026-11-28", 4));
    outbox.metaRows.set("daily_points/0000000002", "{broken");
    const s = station(outbox);
    s.runner.start();
    expect([...outbox.metaRows.keys()].filter((k) => k.startsWith("daily_points")).sort()).toEqual(["daily_points", `daily_points/${ANNA}`]);
    expect(earnedOn(s.runner.snapshot().daily, day, ANNA)).toBe(3);
    expect(earnedOn(s.runner.snapshot().daily, day, "0000000042")).toBe(6);
    s.openAll();
    s.show("scale-1", 12_000, 1200);
    s.present("100086F444", 300);
    s.show("scale-1", 13_250, 1500);
    s.clock.advance(6000);
    expect(outbox.events.map((e) => e.data.points)).toEqual([2]);
    expect(outbox.metaRows.get(`daily_points/${ANNA}`)).toBe(cardRow(day, 5));
  });

  it("the count's day is the stored day, also when it went back, and a spill's rows count whether or not the spill could be committed at start", () => {
    for (const failingAtStart of [false, true]) {
      const outbox = new FakeOutbox();
      // A credit on 11-29, then the local day went back (a clock stepped back) and the 11-28 credit
      // was spilled at shutdown; the spill leaves out the deletion of ANNA's 11-29 row.
      outbox.metaRows.set(`daily_points/${ANNA}`, cardRow("2026-11-29", 2));
      outbox.metaRows.set("daily_points_day", "2026-11-29");
      outbox.spillFile = {
        id: "spill-1",
        batches: [{ time: "2026-11-28T10:00:00.000Z", events: [], meta: { "daily_points/0000000042": cardRow("2026-11-28", 5), daily_points_day: "2026-11-28" } }],
      };
      outbox.failing = failingAtStart;
      const s = station(outbox);
      s.runner.start();
      const daily = s.runner.snapshot().daily;
      expect([daily?.day, earnedOn(daily, "2026-11-28", "0000000042"), earnedOn(daily, "2026-11-28", ANNA)], `failing at start: ${failingAtStart}`).toEqual(["2026-11-28", 5, 0]);
      if (!failingAtStart) expect(outbox.metaRows.has(`daily_points/${ANNA}`)).toBe(false);
    }
  });

  it("an earlier version's whole-day row of an earlier day is deleted", () => {
    const outbox = new FakeOutbox();
    outbox.metaRows.set("daily_points", JSON.stringify({ day: "2026-11-27", points: { [ANNA]: 2 } }));
    outbox.metaRows.set(`daily_points/${ANNA}`, cardRow("2026-11-28", 1));
    const s = station(outbox);
    s.runner.start();
    expect(outbox.metaRows.has("daily_points")).toBe(false);
    expect(s.runner.snapshot().daily?.day).toBe("2026-11-28");
  });
});

describe("role lists at start (contract section 2, Roles: which lists win)", () => {
  const CONFIG: ConfigCards = { collectors: ["111"], maintenance: [], blocked: ["999"] };
  const cardsOf = (r: StationRunner) => r.snapshot().cards;

  it("a first start applies the config's lists and stores them with the config's own copy", () => {
    const outbox = new FakeOutbox();
    const s = station(outbox, { cards: CONFIG });
    s.runner.start();
    expect(cardsOf(s.runner)).toEqual({ ...CONFIG, version: null });
    expect(JSON.parse(outbox.metaRows.get("cards")!)).toEqual({ ...CONFIG, version: null });
    expect(JSON.parse(outbox.metaRows.get("cards_config")!)).toEqual({ ...CONFIG, version: null });
  });

  it("a restart with unchanged config lists keeps the lists last set by command; a changed config wins", () => {
    const outbox = new FakeOutbox();
    const first = station(outbox, { cards: CONFIG });
    first.runner.start();
    first.runner.setCards({ blocked: ["999", "998"] }, "cmd-7");
    expect(cardsOf(first.runner)?.version).toBe("cmd-7");
    // Restart, same config: the command's lists stay.
    const second = station(outbox, { cards: CONFIG });
    second.runner.start();
    expect(cardsOf(second.runner)).toEqual({ collectors: ["111"], maintenance: [], blocked: ["999", "998"], version: "cmd-7" });
    // Restart with the config's lists changed: they replace the command's.
    const changed: ConfigCards = { ...CONFIG, collectors: ["111", "112"] };
    const third = station(outbox, { cards: changed });
    third.runner.start();
    expect(cardsOf(third.runner)).toEqual({ ...changed, version: null });
    // And the next restart, unchanged again, keeps them (no second replacement).
    third.runner.setCards({ maintenance: ["555"] }, "cmd-8");
    const fourth = station(outbox, { cards: changed });
    fourth.runner.start();
    expect(cardsOf(fourth.runner)?.version).toBe("cmd-8");
  });

  it("a stored value that is not in the expected form is ignored (the config's lists apply)", () => {
    const outbox = new FakeOutbox();
    outbox.metaRows.set("cards", "{not json");
    outbox.metaRows.set("daily_points", JSON.stringify({ day: "2026-11-29", points: { a: -5 } }));
    const s = station(outbox, { cards: CONFIG });
    s.runner.start();
    expect(cardsOf(s.runner)).toEqual({ ...CONFIG, version: null });
    expect(s.runner.snapshot().daily).toBeUndefined();
  });
});
