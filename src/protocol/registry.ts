/**
 * The device registry (architecture.md, "Data flow": "device registry: framer + decoder per
 * protocol"): every protocol module, by kind. The config schema builds its `scales[]`,
 * `readers[]` and `level_sensors[]` items from these lists, the station creates framers through them, and the demo
 * simulator encodes through them.
 *
 * Adding a protocol: write its module (layout facts with their source, `defineProtocol` with its
 * options, port needs, defaults, framer, decoder and encoder), its fixtures and tests, and add it to
 * the list of its kind below; nothing else changes.
 */
import type { DeviceKind, ProtocolModule } from "./device-protocol.js";
import { dypA02 } from "./level/dyp-a02.js";
import { tfLuna } from "./level/tf-luna.js";
import { asciiLine } from "./reader/ascii-line.js";
import { em4100Ascii } from "./reader/em4100-ascii.js";
import { iso14443Text } from "./reader/iso14443-text.js";
import { wiegand } from "./reader/wiegand.js";
import { asciiStGs } from "./scale/ascii-st-gs.js";
import { cas22 } from "./scale/cas-22.js";
import { modbusRtu } from "./scale/modbus-rtu.js";
import { mtSics } from "./scale/mt-sics.js";
import { ohaus } from "./scale/ohaus.js";
import { toledoContinuous } from "./scale/toledo-continuous.js";
import { yaohuaA12 } from "./scale/yaohua-a12.js";
import { yaohuaA9 } from "./scale/yaohua-a9.js";

/** A list with at least one entry. */
export type NonEmpty<T> = readonly [T, ...T[]];

/** Every protocol module, by kind, in the order the config's documentation lists them. */
export const PROTOCOLS: { readonly [K in DeviceKind]: NonEmpty<ProtocolModule<K>> } = {
  // contract.md section 5; layouts in shared/protocols/scales.md
  scale: [yaohuaA9, asciiStGs, yaohuaA12, toledoContinuous, mtSics, ohaus, cas22, modbusRtu],
  // contract.md section 5; layouts in shared/protocols/readers.md
  reader: [em4100Ascii, asciiLine, iso14443Text, wiegand],
  // contract.md section 5; layouts in shared/protocols/level-sensors.md
  level: [dypA02, tfLuna],
};

/** The names of a kind's protocols (the config's `protocol` values). */
export function protocolNames(kind: DeviceKind): string[] {
  return PROTOCOLS[kind].map((p) => p.name);
}

/**
 * The module of a protocol.
 *
 * @throws RangeError naming the known protocols of that kind, when `name` is none of them (the
 *   config schema refuses such a file first)
 */
export function findProtocol<K extends DeviceKind>(kind: K, name: string): ProtocolModule<K> {
  const list: NonEmpty<ProtocolModule<K>> = PROTOCOLS[kind];
  const found = list.find((p) => p.name === name);
  if (found === undefined) {
    throw new RangeError(`unknown ${kind} protocol ${JSON.stringify(name)} (known: ${protocolNames(kind).join(", ")})`);
  }
  return found;
}
