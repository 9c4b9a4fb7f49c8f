/**
 * A stored open session reads back as it was written, for every role (issue 12: the chaos day found
 * a collector's session, killed mid-collection, left unreadable in the database: the schema did not
 * know the `role` field that `persisted` writes for every card that is not a resident's).
 */
import { describe, expect, it } from "vitest";
import { parsePersistedSession } from "../../src/app/persisted-session.js";
import { persisted } from "../../src/domain/session.js";
import type { OpenSession, Role } from "../../src/domain/station-types.js";

const open = (role: Role): OpenSession => ({
  phase: "open",
  id: "01a24fd6-9e81-77ab-9dca-70331c85f0af",
  cardId: "0009000008",
  readerId: "reader-1",
  startedMono: 1000,
  startedWall: 1_796_635_795_074,
  bins: [{ binId: "recycle", baselineG: 22_075 }],
  firstDepositFromMono: 1000,
  lastChangeMono: null,
  lastChangeWall: null,
  ...(role !== "resident" ? { role } : {}),
});

describe("a stored open session", () => {
  it.each<Role>(["resident", "collector", "maintenance", "blocked"])("of a %s's card reads back as written, role included", (role) => {
    const row = JSON.parse(JSON.stringify(persisted(open(role)))) as unknown;
    const back = parsePersistedSession(row);
    expect(back).toEqual(persisted(open(role)));
    expect(back?.role).toBe(role === "resident" ? undefined : role);
  });

  it("with a role that is not one is still refused", () => {
    const row = { ...persisted(open("collector")), role: "janitor" };
    expect(parsePersistedSession(row)).toBeNull();
  });
});
