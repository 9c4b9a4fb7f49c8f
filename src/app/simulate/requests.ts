/**
 * The requests a polled device receives (`smartbin simulate` playing an MT-SICS balance or a Modbus
 * transmitter): the station polls with one fixed request (the protocol's `port.poll.request`), so
 * the simulator answers each time those exact bytes arrive, however the port cuts them into chunks.
 * Pure, so it is tested without a port.
 */

/** Counts the occurrences of one request in a byte stream cut anywhere. */
export class RequestMatcher {
  /** The last bytes seen, fewer than a request: the start of a request cut by a chunk boundary. */
  private tail = new Uint8Array(0);

  constructor(private readonly request: Uint8Array) {}

  /** Takes the next chunk; returns how many whole requests it completed. Other bytes are ignored. */
  push(chunk: Uint8Array): number {
    const n = this.request.length;
    if (n === 0) return 0;
    const bytes = new Uint8Array(this.tail.length + chunk.length);
    bytes.set(this.tail);
    bytes.set(chunk, this.tail.length);
    let count = 0;
    let from = 0;
    for (let i = 0; i + n <= bytes.length; ) {
      if (this.matchesAt(bytes, i)) {
        count++;
        i += n;
        from = i;
      } else i++;
    }
    this.tail = bytes.slice(Math.max(from, bytes.length - (n - 1)));
    return count;
  }

  private matchesAt(bytes: Uint8Array, at: number): boolean {
    for (let k = 0; k < this.request.length; k++) if (bytes[at + k] !== this.request[k]) return false;
    return true;
  }
}
