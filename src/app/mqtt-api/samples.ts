/**
 * One sample payload (or a few) of every message in docs/asyncapi.yaml, shaped like what the
 * station emits (the deposit is contract section 4's example). Typed by the schemas of payloads.ts,
 * and checked against both the zod schema and the generated JSON Schema by test/docs/asyncapi.test.ts.
 */
import type { z } from "zod";
import type { COMMAND_SCHEMAS, CommandName } from "../commands/schemas.js";
import type { CLOUD_EVENT_SCHEMAS, COMMAND_RESULT_SCHEMAS, errorReplySchema, statusSchema, telemetrySchema } from "./payloads.js";

type EventSample<K extends keyof typeof CLOUD_EVENT_SCHEMAS> = z.input<(typeof CLOUD_EVENT_SCHEMAS)[K]>;

const STATION = "st-001";
const BOOT_ID = "5b1f9a0e-3c0a-4f57-9a52-2b3c4d5e6f70";

/** An event as envelope.ts writes it: `data` is station_id, seq, the event's fields, boot_id, mono_ms, clock_synced. */
function envelope<K extends keyof typeof CLOUD_EVENT_SCHEMAS>(
  kind: K,
  at: { id: string; time: string; subject: string; seq: number; monoMs: number },
  fields: Record<string, unknown>,
): EventSample<K> {
  return {
    specversion: "1.0",
    id: at.id,
    source: `smartbin/${STATION}`,
    type: `smartbin.${kind}.v1`,
    time: at.time,
    subject: at.subject,
    datacontenttype: "application/json",
    data: { station_id: STATION, seq: at.seq, ...fields, boot_id: BOOT_ID, mono_ms: at.monoMs, clock_synced: true },
  } as EventSample<K>;
}

export const SAMPLE_EVENTS: { [K in keyof typeof CLOUD_EVENT_SCHEMAS]: Array<EventSample<K>> } = {
  deposit: [
    envelope("deposit", { id: "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd", time: "2026-11-29T14:36:38.123Z", subject: "kitchen", seq: 17, monoMs: 86400123 }, {
      bin_id: "kitchen",
      category: "food_waste",
      card_id: "0008844356",
      reader_id: "reader-1",
      gross_before_g: 12000,
      gross_after_g: 13250,
      net_g: 1250,
      points: 2,
      points_reason: "awarded",
      rules_version: "2026-11",
      started_at: "2026-11-29T14:36:21.002Z",
      ended_at: "2026-11-29T14:36:37.950Z",
      session_id: "01a227bb-2c41-7a0e-8b3e-55c1d0e4f6a2",
      close_reason: "idle",}),
  ],
  alarm: [
    envelope("alarm", { id: "01a227be-0a11-7c2e-9d3f-1b2c3d4e5f60", time: "2026-11-29T14:40:02.512Z", subject: "scale-1", seq: 18, monoMs: 86604512 }, {
      code: "scale_offline",
      device_id: "scale-1",
      bin_id: "kitchen",
      reason: "no valid frames",
      message: "scale scale-1 offline: no valid frames",}),
    envelope("alarm", { id: "01a227bf-4b7a-7d10-8e21-6c7d8e9f0a1b", time: "2026-11-29T15:02:10.007Z", subject: "recycle", seq: 21, monoMs: 87932007 }, {
      code: "implausible_weight",
      bin_id: "recycle",
      session_id: "01a227bf-31aa-7b02-a3c4-d5e6f708192a",
      net_g: 12400,
      max_net_g: 10000,
      message: "bin recycle: a deposit of 12400 g is above max_net_g 10000 g; recorded with 0 points",}),
    envelope("alarm", { id: "01a227c0-11d2-7e44-b5a6-0f1e2d3c4b5a", time: "2026-11-29T16:10:00.250Z", subject: "kitchen", seq: 30, monoMs: 92000250 }, {
      code: "bin_full",
      bin_id: "kitchen",
      device_id: "level-1",
      distance_mm: 260,
      fill_percent: 98.9,
      full_mm: 250,
      empty_mm: 1200,
      message: "bin kitchen full: fill level 98.9 %",}),
  ],
  collection: [
    envelope("collection", { id: "01a227c1-5e6f-7a80-9b1c-2d3e4f5a6b7c", time: "2026-11-29T17:20:41.300Z", subject: "kitchen", seq: 31, monoMs: 96241300 }, {
      bin_id: "kitchen",
      card_id: "0012340777",
      removed_g: 41200,
      gross_before_g: 46200,
      gross_after_g: 5000,
      rules_version: "2026-11",
      session_id: "01a227c1-40aa-7bcd-8e0f-a1b2c3d4e5f6",
      started_at: "2026-11-29T17:20:12.004Z",
      ended_at: "2026-11-29T17:20:41.120Z",
      close_reason: "idle",}),
  ],
  maintenance: [
    envelope("maintenance", { id: "01a227c2-7788-7f99-aabb-ccddeeff0011", time: "2026-11-29T18:05:09.870Z", subject: "st-001", seq: 32, monoMs: 98909870 }, {
      card_id: "0000990001",
      session_id: "01a227c2-6a6b-7c6d-8e6f-707172737475",
      started_at: "2026-11-29T18:01:02.000Z",
      ended_at: "2026-11-29T18:05:09.700Z",
      close_reason: "idle",}),
  ],
  command: [
    envelope("command", { id: "01a227c3-0102-7304-8506-0708090a0b0c", time: "2026-11-29T18:30:00.100Z", subject: "st-001", seq: 33, monoMs: 100400100 }, {
      command_id: "c-2026-11-29-0001",
      name: "set_cards",
      args: { collectors: ["0012340777"], version: "2026-11-29.1" },
      ok: true,
      error_code: null,}),
    envelope("command", { id: "01a227c3-1112-7314-8516-1718191a1b1c", time: "2026-11-29T18:31:00.400Z", subject: "st-001", seq: 34, monoMs: 100460400 }, {
      command_id: "c-2026-11-29-0002",
      name: "tare",
      args: { scale_id: "scale-1" },
      ok: false,
      error_code: "busy",}),
  ],
};

export const SAMPLE_STATUS: Array<z.input<typeof statusSchema>> = [
  {
    state: "online",
    station_id: STATION,
    devices: { "scale-1": "online", "reader-1": "online", "level-1": "offline" },
    scales: { "scale-1": "ok" },
    storage: { state: "ok", space: "ok" },
    session: "idle",
    full_bins: [],
    levels: { "level-1": { bin_id: "kitchen", distance_mm: 812, fill_percent: 40.8 } },
    offline_reasons: { "level-1": "silent" },
  },
  { state: "offline" },
  { state: "offline", reason: "shutdown" },
];

export const SAMPLE_TELEMETRY: Array<z.input<typeof telemetrySchema>> = [
  {
    backlog: 0,
    oldest_pending_age_s: null,
    devices: {
      "scale-1": { state: "online", valid_frames: 172800, discarded_frames: 3 },
      "reader-1": { state: "online", valid_frames: 412, discarded_frames: 0 },
    },
    uptime_s: 86400,
    rss_bytes: 61_440_000,
    disk_free_bytes: 12_884_901_888,
    db_bytes: 4_194_304,
  },
];

export const SAMPLE_COMMANDS: { [N in CommandName]: Array<z.input<(typeof COMMAND_SCHEMAS)[N]>> } = {
  status: [{ command_id: "c-0001" }],
  replay: [
    { command_id: "c-0002", from_seq: 18, to_seq: 20 },
    { command_id: "c-0003", from_seq: 18 },
  ],
  tare: [{ command_id: "c-0004", scale_id: "scale-1" }],
  zero: [{ command_id: "c-0005", scale_id: "scale-1" }],
  set_cards: [{ command_id: "c-0006", collectors: ["0012340777"], blocked: [], version: "2026-11-29.1" }],
  reload_config: [{ command_id: "c-0007" }],
};

export const SAMPLE_RESULTS: { [N in CommandName]: z.input<(typeof COMMAND_RESULT_SCHEMAS)[N]> } = {
  status: {
    status: {
      state: "online",
      station_id: STATION,
      devices: { "scale-1": "online", "reader-1": "online" },
      scales: { "scale-1": "ok" },
      storage: { state: "ok", space: "ok" },
      session: "idle",
    },
    counters: {
      scale_frames: 172800,
      reader_frames: 412,
      level_frames: 0,
      discarded_frames: 3,
      noise_frames: 1,
      sessions_opened: 40,
      refused_sessions: 0,
      deposits: 52,
      alarms: 2,
    },
    backlog: 0,
  },
  replay: { count: 3, first_held_seq: 1 },
  tare: { scale_id: "scale-1", sent: true },
  zero: { scale_id: "scale-1", sent: true },
  set_cards: { version: "2026-11-29.1", collectors: 1, maintenance: 0, blocked: 0 },
  reload_config: { applied: "now", changed: ["telemetry"] },
};

export const SAMPLE_ERROR_REPLIES: Array<z.input<typeof errorReplySchema>> = [
  { command_id: "c-0004", ok: false, error: { code: "busy", message: "bin kitchen is in a session" } },
  { command_id: "c-0099", ok: false, error: { code: "invalid", message: "from_seq: expected an integer from 1 to 9007199254740991" } },
];
