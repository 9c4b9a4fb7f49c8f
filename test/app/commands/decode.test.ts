import { describe, expect, it } from "vitest";
import { decodeCommand, issuesMessage } from "../../../src/app/commands/decode.js";
import { MAX_COMMAND_BYTES, replySchema } from "../../../src/app/commands/schemas.js";

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const failure = (name: string, payload: Uint8Array) => {
  const d = decodeCommand(name, payload);
  if (d.ok) throw new Error("decoded");
  // Every refusal is a reply of the contract's shape.
  expect(replySchema.safeParse(d.reply).success).toBe(true);
  return { failure: d.failure, id: d.reply.command_id, code: d.reply.error.code, message: d.reply.error.message };
};

describe("decodeCommand", () => {
  it("decodes every command with valid arguments", () => {
    const ok = [
      ["status", { command_id: "a" }],
      ["replay", { command_id: "a", from_seq: 3 }],
      ["replay", { command_id: "a", from_seq: 3, to_seq: 3 }],
      ["tare", { command_id: "a", scale_id: "scale-1" }],
      ["zero", { command_id: "a", scale_id: "scale-1" }],
      ["set_cards", { command_id: "a", version: "v1", collectors: ["1"], blocked: [] }],
      ["reload_config", { command_id: "x".repeat(64) }],
    ] as const;
    for (const [name, payload] of ok) {
      const d = decodeCommand(name, json(payload));
      expect(d, name).toEqual({ ok: true, command: { name, payload } });
    }
  });

  it("refuses bytes that are not JSON, or not UTF-8, with an empty command_id", () => {
    expect(failure("status", Buffer.from("{command_id: a}"))).toMatchObject({ failure: "not_json", id: "", code: "invalid" });
    expect(failure("status", Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ failure: "not_json", code: "invalid" });
    expect(failure("status", Buffer.alloc(0))).toMatchObject({ failure: "not_json", code: "invalid" });
  });

  it("refuses JSON that is not an object: arrays, null, strings, numbers", () => {
    expect(failure("status", json([{ command_id: "a" }]))).toMatchObject({ failure: "not_object", id: "", code: "invalid", message: "payload is an array, not a JSON object" });
    expect(failure("status", json(null)).message).toBe("payload is null, not a JSON object");
    expect(failure("status", json("a")).message).toBe("payload is a string, not a JSON object");
    expect(failure("status", json(7)).message).toBe("payload is a number, not a JSON object");
  });

  it("refuses a payload over the limit without reading it", () => {
    const big = Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20);
    expect(failure("status", big)).toMatchObject({ failure: "oversized", id: "", code: "invalid" });
    // At the limit it is read (and here refused only because it is blank).
    expect(failure("status", Buffer.alloc(MAX_COMMAND_BYTES, 0x20)).failure).toBe("not_json");
  });

  it("refuses an unknown name with the command_id echoed; names of Object's prototype are unknown too", () => {
    expect(failure("reboot", json({ command_id: "c-1" }))).toEqual({ failure: "unknown_command", id: "c-1", code: "unknown_command", message: 'no command "reboot"' });
    for (const name of ["__proto__", "constructor", "toString", ""]) expect(failure(name, json({ command_id: "c-1" })).code).toBe("unknown_command");
    expect(failure("x".repeat(500), json({ command_id: "c" })).message.length).toBeLessThan(90);
  });

  it("echoes command_id only when it can be read (a string of 1 to 64 characters)", () => {
    expect(failure("status", json({ command_id: "" })).id).toBe("");
    expect(failure("status", json({ command_id: "x".repeat(65) })).id).toBe("");
    expect(failure("status", json({ command_id: 7 })).id).toBe("");
    expect(failure("status", json({ command_id: "ok", extra: 1 })).id).toBe("ok");
    // Counted as the schema counts it (characters, not UTF-16 units): an id it takes is echoed.
    const emoji = "\u{1F5D1}".repeat(40);
    expect(failure("status", json({ command_id: emoji, extra: 1 })).id).toBe(emoji);
  });

  it("names every kind of schema problem", () => {
    const cases: Array<[string, unknown, string]> = [
      ["status", {}, "command_id: "],
      ["status", { command_id: "" }, "command_id: "],
      ["status", { command_id: "a", verbose: true }, '(payload): Unrecognized key: "verbose"'],
      ["replay", { command_id: "a" }, "from_seq: "],
      ["replay", { command_id: "a", from_seq: 0 }, "from_seq: "],
      ["replay", { command_id: "a", from_seq: 1.5 }, "from_seq: "],
      ["replay", { command_id: "a", from_seq: "1" }, "from_seq: "],
      ["replay", { command_id: "a", from_seq: 5, to_seq: 4 }, "to_seq: to_seq must not be below from_seq"],
      ["tare", { command_id: "a" }, "scale_id: "],
      ["zero", { command_id: "a", scale_id: "" }, "scale_id: "],
      ["set_cards", { command_id: "a", collectors: [] }, "version: "],
      ["set_cards", { command_id: "a", version: "v", blocked: ["1", 2] }, "blocked[1]: "],
      ["set_cards", { command_id: "a", version: "v", maintenance: "1" }, "maintenance: "],
      ["reload_config", { command_id: "a", file: "/etc/passwd" }, "Unrecognized key"],
    ];
    for (const [name, payload, expected] of cases) {
      const f = failure(name, json(payload));
      expect(f.failure, `${name} ${JSON.stringify(payload)}`).toBe("schema");
      expect(f.code).toBe("invalid");
      expect(f.message, `${name} ${JSON.stringify(payload)}`).toContain(expected);
    }
  });

  it("a bad seq gets one message, whatever is wrong with it; from_seq and to_seq are compared only when both are seqs", () => {
    const seqMessage = "expected an integer from 1 to 9007199254740991";
    for (const from of [0, -1, 1.5, "1", null, 1e300, Number.MAX_SAFE_INTEGER + 1]) {
      expect(failure("replay", json({ command_id: "a", from_seq: from })).message, String(from)).toBe(`from_seq: ${seqMessage}`);
    }
    expect(failure("replay", json({ command_id: "a", from_seq: -1, to_seq: -5 })).message).toBe(`from_seq: ${seqMessage}; to_seq: ${seqMessage}`);
    expect(failure("replay", json({ command_id: "a", from_seq: 7, to_seq: 3 })).message).toBe("to_seq: to_seq must not be below from_seq");
  });

  it("keeps the message short however many problems, and however long a key", () => {
    const payload: Record<string, unknown> = { command_id: "a" };
    for (let i = 0; i < 500; i++) payload[`k${i}${"z".repeat(200)}`] = i;
    const f = failure("status", json(payload));
    expect(f.message.length).toBeLessThanOrEqual(300);
    const many = failure("set_cards", json({ command_id: "a", version: "v", collectors: Array.from({ length: 50 }, () => 1) }));
    expect(many.message).toMatch(/^collectors\[0\]: .*; collectors\[1\]: .*; collectors\[2\]: .* \(and 47 more\)$/);
    expect(many.message.length).toBeLessThanOrEqual(300);
    expect(issuesMessage([])).toBe("");
  });
});
