import { createConnection, createServer } from "node:net";
import type { Server, Socket } from "node:net";

/**
 * A TCP proxy between the publisher and the broker, to break the link the way networks do:
 * `cut()` drops every connection without an MQTT DISCONNECT (the broker then publishes the will),
 * `holdAcks(true)` keeps bytes from the broker (PUBACKs included) from reaching the client.
 */
export interface TcpProxy {
  port: number;
  url: string;
  /** Destroys every proxied connection, both sides, at once. New connections are still accepted. */
  cut(): void;
  /** While true, bytes from the broker to the client are dropped. */
  holdAcks(hold: boolean): void;
  /** While true, bytes from the client to the broker are dropped (what the client sends is lost on the way). */
  holdSends(hold: boolean): void;
  /**
   * A broker that accepts then drops every connection: `"at-once"` closes each new connection as
   * soon as it is accepted (before any CONNACK), a number forwards it and drops it that many ms
   * after it was accepted (after its CONNACK), `null` (default) forwards as usual.
   */
  dropEvery(mode: "at-once" | number | null): void;
  /** Number of client connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let hold = false;
  let holdUp = false;
  let accepted = 0;
  let drop: "at-once" | number | null = null;
  const server: Server = createServer((client) => {
    accepted++;
    if (drop === "at-once") {
      client.on("error", () => undefined);
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    if (typeof drop === "number") setTimeout(close, drop);
    client.on("data", (d: Buffer) => {
      if (!holdUp) upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (!hold) client.write(d);
    });
    for (const s of pair) {
      s.on("error", close);
      s.on("close", close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const cut = () => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut,
    holdAcks(h) {
      hold = h;
    },
    holdSends(h) {
      holdUp = h;
    },
    dropEvery(mode) {
      drop = mode;
    },
    connections: () => accepted,
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
