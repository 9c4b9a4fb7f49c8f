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
  /** Number of client connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let hold = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const close = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("data", (d: Buffer) => upstream.write(d));
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
    connections: () => accepted,
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
