/**
 * The host end of a socat pseudo-terminal pair (socat.ts) opened with the real serialport binding,
 * for tests whose simulated device must read what the station sends (request/response protocols).
 * `lock: false`: the pty is the test's own, and a lock file would outlive a crashed test.
 */
import { SerialPort } from "serialport";

/** Opens `path` at 9600 baud; rejects with serialport's error. */
export async function openHostPort(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

/** Closes `port` if it is open; never rejects. */
export async function closeHostPort(port: SerialPort): Promise<void> {
  if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
}
