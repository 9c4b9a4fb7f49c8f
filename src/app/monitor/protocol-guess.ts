/**
 * `smartbin monitor`'s hint when a device's bytes are all discarded (issue 9, item 5): the bytes seen
 * are fed to every registered protocol of the device's kind (the device registry, src/protocol/
 * registry.ts), and the one that decodes the most frames is named. When none decodes, the bytes are
 * most likely read at the wrong baud rate (a UART at the wrong speed turns every frame into other
 * bytes), or the device speaks a protocol we do not know; which of the two cannot be told from the
 * bytes, and a pseudo-terminal has no baud rate to test, so the hint says both.
 *
 * Pure: bytes in, a verdict out. Each protocol gets a fresh framer, so nothing here touches the
 * device's own framer.
 */
import { PROTOCOLS, type DeviceKind, type FrameOf, type ProtocolModule } from "../../protocol/index.js";
import { unreachable } from "../../domain/exhaustive.js";

/** How one protocol fared on the bytes. */
export interface ProtocolTally {
  protocol: string;
  /** Frames that carried a reading: a weight or a "no valid weight" report, a card id. */
  decoded: number;
  /** Well-formed frames that carry nothing (a `TR` frame, a reader's all-zero tag). */
  other: number;
  /** Discarded frames, and their bytes. */
  discarded: number;
  discardedBytes: number;
}

/** The guesser's verdict: the protocol that decodes the bytes best, or none. */
export type ProtocolGuess =
  | { kind: "decodes"; protocol: string; decoded: number; tallies: ProtocolTally[] }
  | { kind: "none"; tallies: ProtocolTally[] };

/**
 * Feeds `bytes` to every registered protocol of `kind` and tallies the frames. `options` is the
 * device's config item: a protocol takes the keys that are its own options (a shared key such as
 * `unit` too) and defaults for the rest; when the item's keys are invalid for a protocol, it is tried
 * with its defaults alone.
 */
export function tallyProtocols(kind: DeviceKind, bytes: Uint8Array, options: Readonly<Record<string, unknown>> = {}): ProtocolTally[] {
  const modules: readonly ProtocolModule[] = PROTOCOLS[kind];
  return modules.map((module) => {
    const tally: ProtocolTally = { protocol: module.name, decoded: 0, other: 0, discarded: 0, discardedBytes: 0 };
    for (const frame of configured(module, options).createFramer().push(bytes)) countFrame(tally, frame);
    return tally;
  });
}

function configured(module: ProtocolModule, options: Readonly<Record<string, unknown>>) {
  try {
    return module.configure(options);
  } catch {
    return module.configure({});
  }
}

function countFrame(tally: ProtocolTally, frame: FrameOf<DeviceKind>): void {
  switch (frame.kind) {
    case "weight":
    case "no_weight":
    case "id":
    case "distance":
    case "no_reading":
      tally.decoded++;
      return;
    case "ignored":
    case "noise":
      tally.other++;
      return;
    case "discarded":
      tally.discarded++;
      tally.discardedBytes += frame.bytes.length;
      return;
    default:
      return unreachable(frame);
  }
}

/**
 * The protocol of `kind` that decodes the most frames carrying a reading from `bytes`; ties go to
 * the one that discards fewer bytes, then to the registry's order. `none` when no protocol decodes
 * a single frame.
 */
export function guessProtocol(kind: DeviceKind, bytes: Uint8Array, options: Readonly<Record<string, unknown>> = {}): ProtocolGuess {
  const tallies = tallyProtocols(kind, bytes, options);
  let best: ProtocolTally | undefined;
  for (const t of tallies) {
    if (t.decoded === 0) continue;
    if (best === undefined || t.decoded > best.decoded || (t.decoded === best.decoded && t.discardedBytes < best.discardedBytes)) best = t;
  }
  return best === undefined ? { kind: "none", tallies } : { kind: "decodes", protocol: best.protocol, decoded: best.decoded, tallies };
}

/** What the monitor knows of a device whose bytes are all discarded. */
export interface DiscardedDevice {
  kind: DeviceKind;
  /** The configured protocol and baud rate. */
  protocol: string;
  baudRate: number;
  /** The device's config item (its protocol options). */
  options?: Readonly<Record<string, unknown>>;
}

/**
 * The one-line hint for a device of which every frame was discarded, from the bytes it sent:
 * - another protocol decodes them: `set protocol: ascii-st-gs (it decodes 12 frames of them, yaohua-a9 none)`;
 * - the configured one decodes them after all (the device's framer saw only a partial frame so far): `null`, no hint;
 * - none does: `no scale protocol decodes them: wrong baud rate (now 9600) or protocol; …`.
 * The action comes first: in a narrow terminal the line is cut at its end.
 */
export function discardHint(device: DiscardedDevice, bytes: Uint8Array): string | null {
  const guess = guessProtocol(device.kind, bytes, device.options);
  if (guess.kind === "decodes") {
    if (guess.protocol === device.protocol) return null;
    const frames = `${guess.decoded} frame${guess.decoded === 1 ? "" : "s"}`;
    return `set protocol: ${guess.protocol} (it decodes ${frames} of them, ${device.protocol} none)`;
  }
  return (
    `no ${device.kind} protocol decodes them: wrong baud rate (now ${device.baudRate}) or protocol; ` +
    `check the ${device.kind === "scale" ? "indicator's" : device.kind === "level" ? "sensor's" : "reader's"} output settings (baud rate, data bits, parity)`
  );
}
