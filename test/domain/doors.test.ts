/**
 * Sessions with doors (contract.md section 2, "GPIO and doors", "Sessions with doors", "Other station
 * alarms"), driven through the pure machine with door-sensor edges, button presses and weight
 * traces. The kitchen bin has a door with a button and a lamp; the recycle bin has none unless a test
 * gives it one.
 */
import { describe, expect, it } from "vitest";
import { initialState } from "../../src/domain/station-machine.js";
import type { StationEffect, StationInput } from "../../src/domain/station-types.js";
import { contact, doorClosed, doorContext, doorOpened, locks, press, readyWithDoors } from "../support/doors.js";
import { ANNA, BORIS, card, eventSummary, recorded, run, tick, weigh, wobble } from "../support/machine.js";

const indications = (effects: StationEffect[]) =>
  effects.flatMap((e) => (e.type === "indicate" ? [`${e.signal}${e.binId !== undefined ? ` ${e.binId}` : ""}`] : []));

describe("a door bin in select mode", () => {
  const ctx = doorContext();
  const OPEN = [...readyWithDoors(ctx), card(ANNA, 1000)];

  it("starts with every lock locked, before any input (the safe state)", () => {
    expect(locks(initialState(ctx), ctx)).toBe("kitchen:locked");
  });

  it("a card opens the session with the door still locked, waiting for its button; the lamp blinks", () => {
    const { state, effects } = run(OPEN, ctx);
    expect(state.session.phase).toBe("open");
    expect(locks(state, ctx)).toBe("kitchen:locked");
    expect(indications(effects)).toEqual(["select"]);
    if (state.session.phase !== "open") throw new Error("not open");
    // The recycle bin (no door) is covered at once; the kitchen waits for its button.
    expect(state.session.bins.map((b) => b.binId)).toEqual(["recycle"]);
    expect(state.session.doorBins).toEqual(["kitchen"]);
  });

  it("the button unlocks; the baseline is the weight at the unlock; open, drop, close locks at once; idle close gives one deposit", () => {
    const { state, effects } = run(
      [
        ...OPEN,
        // Someone leans on the bin before the button: the baseline is taken at the unlock, not the card.
        ...weigh("scale-1", 12_500, 1500),
        press("kitchen", 2000),
        doorOpened("kitchen", 3000),
        wobble("scale-1", 13_000, 4000),
        ...weigh("scale-1", 13_750, 5000),
        doorClosed("kitchen", 6000),
      ],
      ctx,
    );
    expect(locks(state, ctx)).toBe("kitchen:locked");
    const after = run([tick(10_999)], ctx, state);
    expect(after.state.session.phase).toBe("open");
    const closed = run([tick(11_000)], ctx, after.state);
    expect(eventSummary(closed.effects)).toEqual(["deposit kitchen 1250g 2 awarded idle"]);
    // The lean before the unlock was outside the kitchen's part of the session: unattributed.
    expect(eventSummary(effects)).toEqual(["alarm unattributed_weight_change kitchen"]);
  });

  it("a bag dropped in two goes (door opened twice, the button again in between) is one deposit, the sum", () => {
    const { state } = run(
      [
        ...OPEN,
        press("kitchen", 2000),
        doorOpened("kitchen", 3000),
        ...weigh("scale-1", 12_600, 4000),
        doorClosed("kitchen", 5000),
        press("kitchen", 6000),
        doorOpened("kitchen", 7000),
        ...weigh("scale-1", 13_400, 8000),
        doorClosed("kitchen", 9000),
      ],
      ctx,
    );
    const closed = run([tick(14_000)], ctx, state);
    expect(eventSummary(closed.effects)).toEqual(["deposit kitchen 1400g 2 awarded idle"]);
  });

  it("a door never opened locks again after open_timeout_s; the button unlocks it again while the session lasts", () => {
    let { state } = run([...OPEN, press("kitchen", 2000)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:unlocked");
    state = run([tick(16_999)], ctx, state).state;
    expect(locks(state, ctx)).toBe("kitchen:unlocked");
    state = run([tick(17_000)], ctx, state).state;
    expect(locks(state, ctx)).toBe("kitchen:locked");
    state = run([press("kitchen", 18_000)], ctx, state).state;
    expect(locks(state, ctx)).toBe("kitchen:unlocked");
  });

  it("without any door opened, the session closes at first_deposit_timeout_s and locks its doors", () => {
    const { state, effects } = run([...OPEN, press("kitchen", 2000), tick(31_000)], ctx);
    expect(state.session.phase).toBe("idle");
    expect(recorded(effects).filter((e) => e.kind === "deposit")).toEqual([]);
    expect(locks(state, ctx)).toBe("kitchen:locked");
  });

  it("a button without a session, or of a bin outside the session, unlocks nothing", () => {
    expect(locks(run([...readyWithDoors(ctx), press("kitchen", 1000)], ctx).state, ctx)).toBe("kitchen:locked");
    // The kitchen is full, so not ready: its button does nothing in this session.
    const full = doorContext({ fullG: 12_000 });
    const { state, effects } = run([...readyWithDoors(full), card(ANNA, 1000), press("kitchen", 2000)], full);
    expect(locks(state, full)).toBe("kitchen:locked");
    expect(indications(effects)).toContain("refused kitchen");
  });

  it("the same card again before any door opened restarts first_deposit_timeout_s; after a door opened it restarts idle_close_s", () => {
    let { state } = run([...OPEN, card(ANNA, 20_000)], ctx);
    expect(run([tick(31_000)], ctx, state).state.session.phase).toBe("open");
    expect(run([tick(50_000)], ctx, state).state.session.phase).toBe("idle");
    state = run([...OPEN, press("kitchen", 2000), doorOpened("kitchen", 3000), doorClosed("kitchen", 4000), card(ANNA, 8000)], ctx).state;
    expect(run([tick(12_999)], ctx, state).state.session.phase).toBe("open");
    expect(run([tick(13_000)], ctx, state).state.session.phase).toBe("idle");
  });

  it("another card while a door of the session is open is ignored; once every door is closed it opens its own session", () => {
    let { state, effects } = run([...OPEN, press("kitchen", 2000), doorOpened("kitchen", 3000), card(BORIS, 4000)], ctx);
    expect(state.session.phase === "open" && state.session.cardId).toBe(ANNA);
    expect(effects.some((e) => e.type === "notice" && e.msg.includes("a door of the open session is open"))).toBe(true);
    ({ state, effects } = run([...weigh("scale-1", 13_000, 5000), doorClosed("kitchen", 6000), card(BORIS, 7000)], ctx, state));
    expect(state.session.phase === "open" && state.session.cardId).toBe(BORIS);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 1000g 2 awarded other_identification"]);
  });

  it("at max_session_s with a door open the session waits, and closes (locked) as the door closes", () => {
    let { state } = run([...OPEN, press("kitchen", 2000), doorOpened("kitchen", 3000), ...weigh("scale-1", 13_000, 4000), tick(301_000)], ctx);
    expect(state.session.phase).toBe("open");
    const closed = run([doorClosed("kitchen", 302_000)], ctx, state);
    state = closed.state;
    expect(state.session.phase).toBe("idle");
    expect(eventSummary(closed.effects)).toEqual(["deposit kitchen 1000g 2 awarded max_session"]);
    expect(locks(state, ctx)).toBe("kitchen:locked");
  });

  it("two buttons pressed together: the first edge wins", () => {
    const both = doorContext({ both: true });
    const { state } = run([...readyWithDoors(both), card(ANNA, 1000), press("recycle", 2000), press("kitchen", 2001)], both);
    expect(locks(state, both)).toBe("kitchen:locked recycle:unlocked");
  });

  it("a door bin without a button unlocks at the identification", () => {
    const noButton = doorContext({ both: true, recycleButton: false });
    const { state } = run([...readyWithDoors(noButton), card(ANNA, 1000)], noButton);
    expect(locks(state, noButton)).toBe("kitchen:locked recycle:unlocked");
  });
});

describe("door_mode: all", () => {
  const ctx = doorContext({ mode: "all", both: true });
  const OPEN = [...readyWithDoors(ctx), card(ANNA, 1000)];

  it("the identification unlocks every ready door; the same card again unlocks again the doors that locked again", () => {
    let { state } = run(OPEN, ctx);
    expect(locks(state, ctx)).toBe("kitchen:unlocked recycle:unlocked");
    state = run([tick(16_000)], ctx, state).state;
    expect(locks(state, ctx)).toBe("kitchen:locked recycle:locked");
    state = run([card(ANNA, 20_000)], ctx, state).state;
    expect(locks(state, ctx)).toBe("kitchen:unlocked recycle:unlocked");
  });

  it("several bins in one session each get their own deposit", () => {
    const { state } = run(
      [
        ...OPEN,
        doorOpened("kitchen", 2000),
        doorOpened("recycle", 2100),
        ...weigh("scale-1", 13_000, 3000),
        ...weigh("scale-2", 3600, 3000),
        doorClosed("kitchen", 4000),
        doorClosed("recycle", 4100),
      ],
      ctx,
    );
    expect(eventSummary(run([tick(9100)], ctx, state).effects)).toEqual([
      "deposit kitchen 1000g 2 awarded idle",
      "deposit recycle 600g 0 awarded idle",
    ]);
  });

  it("a door that is not closed is not ready: no session when it is the only door bin", () => {
    const one = doorContext({ mode: "all" });
    const { state, effects } = run([...readyWithDoors(one), doorOpened("kitchen", 500), card(ANNA, 1000)], one);
    // The recycle bin (no door) is still ready.
    expect(state.session.phase === "open" && state.session.bins.map((b) => b.binId)).toEqual(["recycle"]);
    expect(locks(state, one)).toBe("kitchen:locked");
    expect(eventSummary(effects)).toEqual(["alarm door_forced kitchen"]);
  });
});

describe("door alarms", () => {
  const ctx = doorContext();

  it("a door that opens while locked is door_forced, once per opening (again only after it closed)", () => {
    const { effects } = run(
      [...readyWithDoors(ctx), doorOpened("kitchen", 1000), doorClosed("kitchen", 1500), doorOpened("kitchen", 2000), doorOpened("kitchen", 2100)],
      ctx,
    );
    expect(eventSummary(effects)).toEqual(["alarm door_forced kitchen", "alarm door_forced kitchen"]);
  });

  it("a door open longer than left_open_s is door_left_open, once per opening", () => {
    const { effects } = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1500), doorOpened("kitchen", 2000), tick(61_999), tick(62_000), tick(90_000)], ctx);
    expect(eventSummary(effects).filter((e) => e.includes("door_"))).toEqual(["alarm door_left_open kitchen"]);
  });

  it("a door found open at start is not forced; it may be left open; its bin is not ready", () => {
    const { state, effects } = run([...readyWithDoors(ctx).filter((i) => i.type !== "door_input"), doorOpened("kitchen", 50), tick(60_050), card(ANNA, 61_000)], ctx);
    expect(eventSummary(effects)).toEqual(["alarm door_left_open kitchen"]);
    expect(state.session.phase === "open" && state.session.doorBins).toBeUndefined();
  });

  it("a bouncing door sensor (edges already debounced by the port) never leaves a closed door unlocked", () => {
    const inputs: StationInput[] = [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1500)];
    for (let t = 2000; t < 2100; t += 10) inputs.push(t % 20 === 0 ? doorOpened("kitchen", t) : doorClosed("kitchen", t));
    inputs.push(doorClosed("kitchen", 2200));
    const { state } = run(inputs, ctx);
    expect(locks(state, ctx)).toBe("kitchen:locked");
  });

  it("a GPIO line that fails is a gpio_error alarm (once), and its bin is not ready", () => {
    const { state, effects } = run(
      [
        ...readyWithDoors(ctx),
        { type: "gpio_error", line: 27, message: "EIO", binId: "kitchen", mono: 500, wall: 0 },
        { type: "gpio_error", line: 27, message: "EIO", binId: "kitchen", mono: 600, wall: 0 },
        card(ANNA, 1000),
      ],
      ctx,
    );
    expect(eventSummary(effects)).toEqual(["alarm gpio_error kitchen"]);
    expect(state.session.phase === "open" && state.session.doorBins).toBeUndefined();
  });
});

describe("station contacts", () => {
  it("fire unlocks every door (fire_doors: unlock), makes door bins not ready, and clears with fire_cleared", () => {
    const ctx = doorContext({ both: true });
    let { state, effects } = run([...readyWithDoors(ctx), contact("fire", true, 500), card(ANNA, 1000)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:unlocked recycle:unlocked");
    expect(eventSummary(effects)).toEqual(["alarm fire st-001"]);
    expect(state.session.phase).toBe("idle");
    // Doors opened during a fire are not forced.
    ({ state, effects } = run([doorOpened("kitchen", 2000), doorClosed("kitchen", 3000), contact("fire", false, 4000)], ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm fire_cleared st-001"]);
    expect(locks(state, ctx)).toBe("kitchen:locked recycle:locked");
  });

  it("a button pressed during a fire does not start a deposit on its bin (the door is the fire rule's, not the resident's)", () => {
    const ctx = doorContext();
    const { state, effects } = run(
      [...readyWithDoors(ctx), card(ANNA, 1000), contact("fire", true, 1000), press("kitchen", 1100), doorOpened("kitchen", 1500), ...weigh("scale-1", 13_000, 2000), doorClosed("kitchen", 2500), tick(40_000)],
      ctx,
    );
    // The bag is weight outside any session that covers the bin.
    expect(eventSummary(effects)).toEqual(["alarm fire st-001", "alarm unattributed_weight_change kitchen"]);
    expect(indications(effects)).toContain("refused kitchen");
    expect(state.session.phase).toBe("idle");
  });

  it("fire_doors: lock keeps every door locked during a fire, even one a session had unlocked", () => {
    const ctx = doorContext({ fireDoors: "lock" });
    const { state } = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1500), contact("fire", true, 2000)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:locked");
  });

  it("no new session opens while power_fail is active; tamper is only an alarm", () => {
    const ctx = doorContext();
    const { state, effects } = run([...readyWithDoors(ctx), contact("power_fail", true, 500), contact("tamper", true, 600), card(ANNA, 1000), contact("power_fail", false, 2000)], ctx);
    expect(state.session.phase).toBe("idle");
    expect(eventSummary(effects)).toEqual(["alarm power_fail st-001", "alarm tamper st-001", "alarm power_ok st-001"]);
  });

  it("a contact restored active from the database raises no alarm again at start", () => {
    const ctx = doorContext();
    const { effects } = run([{ type: "restore", contacts: { tamper: true }, mono: 0, wall: 0 }, contact("tamper", true, 10)], ctx);
    expect(eventSummary(effects)).toEqual([]);
  });
});

describe("fill level and unattributed weight", () => {
  it("bin_full at full_g, bin_ok below 90 % of it; a full bin is not ready", () => {
    const ctx = doorContext({ fullG: 13_000 });
    let { state, effects } = run([...readyWithDoors(ctx), ...weigh("scale-1", 13_000, 500)], ctx);
    expect(eventSummary(effects)).toEqual(["alarm unattributed_weight_change kitchen", "alarm bin_full kitchen"]);
    ({ state, effects } = run([card(ANNA, 1000)], ctx, state));
    expect(state.session.phase === "open" && state.session.doorBins).toBeUndefined();
    // 11,800 g is above 90 % (11,700 g): still full.
    ({ state, effects } = run([tick(40_000), ...weigh("scale-1", 11_800, 41_000), ...weigh("scale-1", 11_600, 42_000)], ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm unattributed_weight_change kitchen", "alarm unattributed_weight_change kitchen", "alarm bin_ok kitchen"]);
  });

  it("a weight change outside any session is unattributed_weight_change with the signed delta and both grosses", () => {
    const ctx = doorContext();
    const { effects } = run([...readyWithDoors(ctx), ...weigh("scale-2", 2000, 500)], ctx);
    const alarm = recorded(effects)[0];
    expect(alarm?.kind === "alarm" && alarm.data).toMatchObject({ code: "unattributed_weight_change", bin_id: "recycle", delta_g: -1000, gross_before_g: 3000, gross_after_g: 2000 });
  });
});
