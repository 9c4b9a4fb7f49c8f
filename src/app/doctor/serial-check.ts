/**
 * The doctor's check of one serial device (issue 10, item 4): the port exists and is a character
 * device, this user may open it, and, when no station holds it, frames arrive and decode within a
 * short listen through the device's own protocol module (the registry's framer and decoder). When a
 * running station holds the ports, what that station last recorded about the device is reported
 * instead (its newest `…_offline`/`…_online` alarm in the outbox database).
 */
import { expectedFault } from "../../adapters/log/faults.js";
import { describeUsb, usbSelector, type PortConfig } from "../../adapters/serial/usb-port.js";
import { maskCardId } from "../../domain/privacy.js";
import { findProtocol, type DeviceKind } from "../../protocol/index.js";
import type { CheckResult, DeviceReport, DoctorProbes } from "./types.js";

/** Bytes without one valid frame from which a device counts as sending garbage (contract.md section 4, "No valid frames"). */
const NO_VALID_FRAMES_BYTES = 64;

/** One configured serial device, as the config gives it. */
export interface SerialDeviceEntry {
  kind: DeviceKind;
  /** The config item (`scales[i]`, `readers[i]`): id, port, baud_rate, protocol and its options. */
  item: Readonly<PortConfig & { id: string; baud_rate: number; protocol: string }> & Readonly<Record<string, unknown>>;
}

/** What the checks know about a running station: its pid, and its reports by device id. */
export interface RunningStation {
  pid: number | null;
  reports: Map<string, DeviceReport>;
}

/**
 * Checks one device. `station` is the running station that holds the ports, or `null` (then the
 * port is opened and listened to for `listenMs`).
 */
export async function checkSerialDevice(
  device: SerialDeviceEntry,
  probes: DoctorProbes,
  station: RunningStation | null,
  listenMs: number,
): Promise<CheckResult> {
  const { item, kind } = device;
  const name = `${kind}.${item.id}`;
  let port = item.port ?? "";
  let label = port;
  if (item.usb !== undefined) {
    // Found as the station finds it at every open: by the adapter's identity, through sysfs.
    const usb = usbSelector(item.usb);
    const found = probes.findUsbPort(usb);
    if (found.kind !== "found") {
      const what = describeUsb(usb);
      const hint = found.kind === "missing" ? ": plug the adapter in, or compare the ids with smartbin ports" : "";
      return { name, level: "fail", message: `${what}: ${found.reason}${hint}`, details: { usb: item.usb, error: found.reason } };
    }
    port = found.path;
    label = `${found.path} (${describeUsb(usb)})`;
  }
  const facts = probes.stat(port);
  if ("error" in facts) {
    const missing = facts.error === "ENOENT";
    return {
      name,
      level: "fail",
      message: missing
        ? `port ${port} does not exist: plug the adapter in, or correct the port (ls -l /dev/serial/by-id/)`
        : `port ${port} cannot be looked at (${facts.error}): check the folders' permissions`,
      details: { port, error: facts.error },
    };
  }
  if (facts.kind !== "char") {
    return { name, level: "fail", message: `port ${port} is a ${facts.kind === "dir" ? "directory" : facts.kind === "file" ? "regular file" : "special file"}, not a serial device: correct the port`, details: { port } };
  }
  const denied = probes.readWriteDenied(port);
  if (denied !== null) {
    const { user, groups } = probes.identity();
    const dialout = groups.includes("dialout") ? "" : ` (user ${user} is not in group dialout: sudo usermod -aG dialout ${user}, then log in again)`;
    return { name, level: "fail", message: `no read-write access to ${port} (${denied})${dialout}`, details: { port, error: denied } };
  }
  if (station !== null) return reportedByStation(name, item.id, label, station);

  const codec = findProtocol(kind, item.protocol).configure(item);
  const serial = { ...codec.port.serial, baudRate: item.baud_rate };
  const heard = await probes.listen(port, serial, listenMs, codec.port.poll);
  if (!heard.ok) {
    const fault = expectedFault(heard.error);
    const busy = fault?.code === "EBUSY" || fault?.code === "EAGAIN";
    const reason = fault?.reason ?? (heard.error instanceof Error ? heard.error.message : String(heard.error));
    return {
      name,
      level: "fail",
      message: busy
        ? `port ${port} is in use by another process (${reason}): stop it (fuser -v ${port}), or give this device another port`
        : `cannot open ${port}: ${reason}`,
      details: { port, error: reason },
    };
  }
  return judgeListen(name, kind, item, label, heard.chunks, codec.createFramer(), listenMs, codec.port.poll !== undefined);
}

function reportedByStation(name: string, id: string, port: string, station: RunningStation): CheckResult {
  const pid = station.pid === null ? "a running station" : `the running station (pid ${station.pid})`;
  const report = station.reports.get(id);
  if (report === undefined) {
    return { name, level: "ok", message: `${port} is held by ${pid}, which has recorded no offline alarm for it (online since its start)`, details: { port, station_pid: station.pid } };
  }
  const online = report.code.endsWith("_online");
  const reason = report.reason === undefined ? "" : ` (${report.reason})`;
  return {
    name,
    level: online ? "ok" : "fail",
    message: online
      ? `${port} is held by ${pid}, which reports it online since ${report.time}`
      : `${port} is held by ${pid}, which reports it offline since ${report.time}${reason}: check the device, its cable and its power (smartbin outbox list --since SEQ shows the alarms)`,
    details: { port, station_pid: station.pid, last_alarm: report },
  };
}

/** Judges what a listen received: bytes, valid frames, and what the last valid frame said. */
function judgeListen(
  name: string,
  kind: DeviceKind,
  item: SerialDeviceEntry["item"],
  port: string,
  chunks: Uint8Array[],
  framer: { push(chunk: Uint8Array): ({ kind: string; reason?: string } & Record<string, unknown>)[] },
  listenMs: number,
  polled: boolean,
): CheckResult {
  let bytes = 0;
  let valid = 0;
  let weights = 0;
  let discarded = 0;
  let lastValid: Record<string, unknown> | undefined;
  let lastDiscardReason: string | undefined;
  for (const chunk of chunks) {
    bytes += chunk.length;
    for (const frame of framer.push(chunk)) {
      if (frame.kind === "discarded" || frame.kind === "noise") {
        discarded++;
        lastDiscardReason = frame.reason;
      } else {
        valid++;
        if (frame.kind === "weight") weights++;
        lastValid = frame;
      }
    }
  }
  const seconds = `${(listenMs / 1000).toFixed(listenMs % 1000 === 0 ? 0 : 1)} s`;
  const details = { port, protocol: item.protocol, baud_rate: item.baud_rate, listen_ms: listenMs, bytes, valid_frames: valid, discarded_frames: discarded };
  if (valid > 0 && kind === "scale" && weights === 0) {
    // The right device, speaking, but never a weight (MT-SICS `S I` busy, overload): no session would open on its bin.
    return {
      name,
      level: "warn",
      message: `${port}: ${valid} valid ${item.protocol} frames in ${seconds} but not one weight${describeFrame(lastValid)}: the indicator answers without a weight (busy, overload or underload); check its display and that the platform is free`,
      details,
    };
  }
  if (valid > 0) return { name, level: "ok", message: `${port}: ${valid} valid ${item.protocol} frames in ${seconds}${describeFrame(lastValid)}`, details };
  if (bytes === 0) {
    if (kind === "reader") {
      return { name, level: "ok", message: `${port} opens; no card shown in ${seconds} (a reader is quiet until a card is shown: show one during the check to test it)`, details };
    }
    return {
      name,
      level: "fail",
      message: `${port} opens, but no bytes in ${seconds}: ${silenceHint(kind, item.protocol, polled)}`,
      details,
    };
  }
  const why = lastDiscardReason === undefined ? "" : ` (last: ${lastDiscardReason})`;
  const level = bytes >= NO_VALID_FRAMES_BYTES || kind === "scale" ? "fail" : "warn";
  return {
    name,
    level,
    message: `${port}: ${bytes} bytes in ${seconds} but no valid ${item.protocol} frame${why}: ${discardHint(lastDiscardReason) ?? `wrong protocol, baud rate (${item.baud_rate}) or character format`}`,
    details,
  };
}

/**
 * What to check when the last frame was discarded for a reason that proves the line right: a Modbus
 * exception from the slave (modbus-rtu.ts: baud rate, framing and address are right, the request is
 * not), or an answer from another slave address. `undefined` for other reasons (the line itself is
 * then suspect).
 */
function discardHint(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (reason.startsWith("Modbus exception")) return "the transmitter answers (baud rate and address are right) but refuses the request: check register, function and value_type against its register map";
  if (/^response from slave \d+, not from slave_id/.test(reason)) return "another address answers: check slave_id against the transmitter's address";
  return undefined;
}

/**
 * What to check when a scale or level sensor sent nothing during the listen, in that device's terms
 * (a reader, quiet until a card is shown, is not judged by its silence). The level sensors'
 * conditions for sending on their own: shared/protocols/level-sensors.md (DYP-A02's RX pin) and the
 * TF-Luna product manual (pin 5 selects serial or I2C; an output frequency of 0 is trigger mode).
 *
 * @param polled whether the protocol answers only when asked (mt-sics, modbus-rtu): the doctor sent
 *   it the station's request during the listen, so its silence means no answer
 */
export function silenceHint(kind: Exclude<DeviceKind, "reader">, protocol: string, polled: boolean): string {
  const wiring = "its TX wired to the adapter's RX";
  if (kind === "level") {
    if (protocol === "dyp-a02") return `is the sensor powered, its RX pin high or left unconnected (then it sends readings on its own), and ${wiring}?`;
    if (protocol === "tf-luna") {
      return `is the lidar powered, in serial mode (pin 5 unconnected or at 3.3 V; grounded is I2C), its output frequency above 0 Hz (0 is trigger mode: it waits for a trigger command), and ${wiring}?`;
    }
    return `is the sensor powered, set to send readings on its own, and ${wiring}?`;
  }
  if (polled) {
    return `no answer to the ${protocol} requests the doctor sent as the station does: is the indicator on, its interface set to answer them (address, baud rate and framing as configured), and wired both ways (the adapter's TX to its RX, its TX to the adapter's RX)?`;
  }
  return `is the indicator on, set to continuous output, and ${wiring}?`;
}

function describeFrame(frame: Record<string, unknown> | undefined): string {
  if (frame === undefined) return "";
  if (frame.kind === "weight") return ` (last: ${String(frame.grams)} g, ${frame.mode === "net" ? "net" : "gross"}${frame.stable === false ? ", unstable" : ""})`;
  if (frame.kind === "no_weight") return ` (last: no valid weight, ${String(frame.reason)})`;
  if (frame.kind === "id" && typeof frame.cardId === "string") return ` (last card: ${maskCardId(frame.cardId)})`;
  if (frame.kind === "distance") return ` (last: ${String(frame.mm)} mm)`;
  if (frame.kind === "no_reading") return ` (last: no reading, ${String(frame.reason)})`;
  return "";
}
