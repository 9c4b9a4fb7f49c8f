import Database from "better-sqlite3";
import { pino } from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { requireTools } from "../support/require-tool.js";
import { eventually, removeTempDirs, sleep, startRig, writeStationConfig, type Rig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

/** The alarm codes and published state of every event held in the database, oldest first. */
function held(dbPath: string): Array<{ seq: number; code: string | null; published: boolean }> {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare<[], { seq: number; payload: string; published_at: string | null }>("SELECT seq, payload, published_at FROM events ORDER BY seq")
      .all()
      .map((r) => ({ seq: r.seq, code: ((JSON.parse(r.payload) as { data: { code?: string } }).data.code ?? null), published: r.published_at !== null }));
  } finally {
    db.close();
  }
}

/**
 * Issue 7, item 4, the whole station in-process on real parts: a size budget that the database has
 * already passed, with every event still pending (the broker away).
 */
describe.skipIf(tools.skip)(`storage space budget${tools.reason}`, () => {
  let rig: Rig;
  let station: Station | undefined;

  beforeEach(async () => {
    rig = await startRig();
  });

  afterEach(async () => {
    await station?.stop();
    station = undefined;
    await rig.dispose();
  });

  afterAll(() => removeTempDirs());

  it("at the budget no session opens and pending events are never pruned; once published they are pruned early, storage_ok, cards work again; one alarm per crossing, none repeated by a restart", async () => {
    const { broker, scale, reader } = rig;
    await broker.stop(); // the uplink is away: everything stays pending
    const cfg = writeStationConfig({
      brokerUrl: broker.url,
      scalePort: scale.pty.devicePath,
      readerPort: reader.pty.devicePath,
      storageExtra: "  max_size_mb: 2\n  min_free_mb: 0\n",
    });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    // 2.7 MiB of pending events: past the 2 MiB budget.
    const fill = Outbox.open({ path: cfg.dbPath, stationId: "st-it", logger: pino({ level: "silent" }) });
    for (let i = 0; i < 900; i++) fill.append("alarm", "scale-1", { code: "scale_offline", device_id: "scale-1", message: "x".repeat(3000) });
    fill.close();

    // Every event either station records is logged with its seq ("alarm recorded", "deposit recorded"):
    // the account of what was recorded, pruned or not.
    const recorded = new Map<number, string | null>();
    const logger = pino(
      { level: "info" },
      {
        write: (line: string) => {
          const l = JSON.parse(line) as { msg?: string; seq?: number; code?: string };
          if (l.msg === "alarm recorded" && l.seq !== undefined) recorded.set(l.seq, l.code ?? null);
          if (l.msg === "deposit recorded" && l.seq !== undefined) recorded.set(l.seq, null);
        },
      },
    );
    const start = () => {
      station = new Station({ config: loaded.config, logger, storage: { checkMs: 200, reserveBytes: 0 } });
      station.start();
    };
    start();
    expect(station!.snapshot()!.storage).toMatchObject({ space: "full", spaceAlarm: "nearly_full" });
    await eventually(() => station!.snapshot()!.scales["scale-1"]?.acceptedG === 12_000, 10_000, "the scale's baseline");
    await reader.present("100086F444");
    await eventually(() => station!.getStats().refusedSessions > 0, 5_000, "the card refused");
    expect(station!.getStats().sessionsOpened).toBe(0);
    await sleep(600); // a few housekeeping rounds: nothing pending may go
    expect(held(cfg.dbPath).filter((e) => !e.published)).toHaveLength(901);

    await station!.stop(); // a restart while still full: the alarm is not repeated
    start();
    await sleep(600);
    expect(held(cfg.dbPath).filter((e) => e.code === "storage_nearly_full")).toHaveLength(1);
    expect(station!.snapshot()!.storage.space).toBe("full");

    await broker.restart(); // the backlog drains, and is pruned before its retention ends
    await eventually(() => station!.snapshot()!.storage.space === "ok" && station!.snapshot()!.storage.spaceAlarm === "ok", 20_000, "space ok again");
    await eventually(() => station!.snapshot()!.scales["scale-1"]?.acceptedG === 12_000, 10_000, "the scale's baseline");
    await reader.present("13005D1DA5");
    await eventually(() => station!.getStats().sessionsOpened === 1, 5_000, "a session after pruning");
    scale.loadG += 1_000;
    await eventually(() => station!.getStats().deposits === 1, 8_000, "the deposit");

    // 900 + storage_nearly_full (once, though the station started twice while full) + storage_ok +
    // the deposit (see below for a loaded machine): no other event was recorded, except that a loaded machine may judge the indicator
    // silent across the restart (Node 26's serial poller can deliver its bytes late): scale_offline/
    // scale_online pairs, which are the link's own alarms, not storage's. Once published, any of them
    // may be pruned already, so the account is the stations' log of what they recorded.
    const events = held(cfg.dbPath);
    const isLink = (code: string | null) => code === "scale_offline" || code === "scale_online" || code === "reader_offline" || code === "reader_online";
    const lastSeq = Outbox.readStatus(cfg.dbPath).last_seq;
    expect([...recorded.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: lastSeq - 900 }, (_, i) => 901 + i));
    const own = [...recorded.entries()].sort(([a], [b]) => a - b).map(([, code]) => code).filter((code) => !isLink(code));
    // One nearly-full alarm while full (the restart repeated none), then storage_ok, then the deposit.
    // Between them, a loaded machine may see the level cross again while the drain runs: the WAL
    // (counted in the used space) grows with every mark and prune, by more than the 10 % hysteresis
    // of this test's 2 MiB budget. Each further alarm is then a crossing of its own: they alternate,
    // never two of one kind in a row.
    expect(own[0]).toBe("storage_nearly_full");
    expect(own.slice(-2)).toEqual(["storage_ok", null]);
    const alarms = own.slice(0, -1);
    expect(alarms.every((code, i) => code === (i % 2 === 0 ? "storage_nearly_full" : "storage_ok"))).toBe(true);
    // What is still held says the same as the account.
    for (const e of events.filter((e) => e.seq > 900)) expect(e.code).toBe(recorded.get(e.seq));
    // Pruned oldest first (the nearly-full alarm too, once published): what is left is the newest, gap-free.
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeq + 1 - seqs.length + i));
    expect(events.length).toBeLessThan(600);
  });
});
