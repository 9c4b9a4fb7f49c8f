/** `smartbin doctor` on a fill-level sensor's port (issue 9 item 2): its frames decode through the level protocol modules. */
import { describe, expect, it } from "vitest";
import { formatResult } from "../../src/app/doctor/doctor.js";
import { checkSerialDevice, type SerialDeviceEntry } from "../../src/app/doctor/serial-check.js";
import type { DoctorProbes } from "../../src/app/doctor/types.js";
import { encodeDypA02 } from "../../src/protocol/index.js";

const level: SerialDeviceEntry = { kind: "level", item: { id: "level-1", port: "/dev/ttyUSB2", baud_rate: 9600, protocol: "dyp-a02" } };

/** The probes checkSerialDevice uses: a character device that opens, and these chunks heard. */
function probes(chunks: Uint8Array[]): DoctorProbes {
  return {
    stat: () => ({ kind: "char" }),
    readWriteDenied: () => null,
    realpath: (p: string) => p,
    listen: () => Promise.resolve({ ok: true, chunks }),
    identity: () => ({ user: "smartbin", groups: ["dialout"] }),
  } as unknown as DoctorProbes;
}

describe("doctor: a level sensor", () => {
  it("shows its last distance, or why it has no reading; a silent sensor fails", async () => {
    const frames = Buffer.concat([encodeDypA02(1200), encodeDypA02(1953)]);
    expect(formatResult(await checkSerialDevice(level, probes([frames]), null, 3000))).toBe("ok level.level-1: /dev/ttyUSB2: 2 valid dyp-a02 frames in 3 s (last: 1953 mm)");
    expect(formatResult(await checkSerialDevice(level, probes([encodeDypA02(0)]), null, 3000))).toBe(
      "ok level.level-1: /dev/ttyUSB2: 1 valid dyp-a02 frames in 3 s (last: no reading, no echo (0 mm: nothing in range))",
    );
    expect((await checkSerialDevice(level, probes([]), null, 3000)).level).toBe("fail");
  });
});
