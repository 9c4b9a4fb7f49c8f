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

  it("a silent sensor's hint is about the sensor and its own output conditions, not an indicator's continuous output", async () => {
    expect(formatResult(await checkSerialDevice(level, probes([]), null, 3000))).toBe(
      "fail level.level-1: /dev/ttyUSB2 opens, but no bytes in 3 s: is the sensor powered, its RX pin high or left unconnected (then it sends readings on its own), and its TX wired to the adapter's RX?",
    );
    const lidar: SerialDeviceEntry = { kind: "level", item: { id: "level-2", port: "/dev/ttyUSB3", baud_rate: 115200, protocol: "tf-luna" } };
    expect(formatResult(await checkSerialDevice(lidar, probes([]), null, 3000))).toBe(
      "fail level.level-2: /dev/ttyUSB3 opens, but no bytes in 3 s: is the lidar powered, in serial mode (pin 5 unconnected or at 3.3 V; grounded is I2C), its output frequency above 0 Hz (0 is trigger mode: it waits for a trigger command), and its TX wired to the adapter's RX?",
    );
  });
});
