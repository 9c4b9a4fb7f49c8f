import { createServer, type AddressInfo } from "node:net";
import { Aedes } from "aedes";

/** An embedded MQTT 3.1.1 broker (aedes) on a loopback port, for the demo. */
export interface EmbeddedBroker {
  port: number;
  /** `mqtt://127.0.0.1:PORT`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts aedes on 127.0.0.1, on `port` (1-65535), or on a free port the kernel picks when `port`
 * is 0 or omitted (listen(2) with port 0). `configure` may set aedes' hooks before it listens (the
 * tests make a broker that never answers a SUBSCRIBE). Rejects with the listen error when the port
 * cannot be bound: `code` EADDRINUSE (taken) or EACCES (a privileged port).
 */
export async function startEmbeddedBroker(port = 0, configure?: (aedes: Aedes) => void): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  configure?.(aedes);
  const server = createServer(aedes.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
  } catch (e) {
    aedes.close(() => undefined);
    throw e;
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `mqtt://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => undefined);
        // Connected clients keep the server open; aedes.close ends them.
      }),
  };
}
