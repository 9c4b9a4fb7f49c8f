import { createServer, type AddressInfo } from "node:net";
import { Aedes } from "aedes";

/** An embedded MQTT 3.1.1 broker (aedes) on a free loopback port, for the demo. */
export interface EmbeddedBroker {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Starts aedes on 127.0.0.1 with an ephemeral port. Rejects if the port cannot be bound. */
export async function startEmbeddedBroker(): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => undefined);
        // Connected clients keep the server open; aedes.close ends them.
      }),
  };
}
