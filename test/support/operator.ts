import { randomBytes } from "node:crypto";
import mqtt from "mqtt";
import type { IClientPublishOptions, MqttClient } from "mqtt";

/** A command's reply as the station sends it (contract section 4). */
export interface Reply {
  command_id: string;
  ok: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/**
 * An operator's client for tests: sends commands to `smartbin/<station>/cmd/<name>` and collects the
 * replies. On MQTT 5 each request names a response topic of its own and correlation data (request /
 * response, MQTT 5.0 section 4.10); on 3.1.1 replies come on `.../cmd/<name>/reply`.
 */
export interface Operator {
  client: MqttClient;
  /** Sends a command (`payload` as is: an object is sent as JSON) and waits for its reply; `undefined` after `timeoutMs`. */
  request(name: string, payload: unknown, opts?: { timeoutMs?: number; publish?: IClientPublishOptions }): Promise<Reply | undefined>;
  /** Every reply received, in order. */
  replies: Reply[];
  /** Each answered request: the command's name and its reply. */
  exchanges: Array<{ name: string; reply: Reply }>;
  close(): Promise<void>;
}

export async function startOperator(url: string, opts: { station?: string; prefix?: string; protocolVersion?: 4 | 5; clientId?: string } = {}): Promise<Operator> {
  const version = opts.protocolVersion ?? 5;
  const base = `${opts.prefix ?? "smartbin"}/${opts.station ?? "st-it"}/cmd`;
  const client = await mqtt.connectAsync(url, {
    protocolVersion: version,
    clientId: opts.clientId ?? `operator-${randomBytes(4).toString("hex")}`,
    clean: true,
    reconnectPeriod: 200,
  });
  const responseTopic = `operator/replies/${randomBytes(4).toString("hex")}`;
  const replies: Reply[] = [];
  const exchanges: Array<{ name: string; reply: Reply }> = [];
  const waiting = new Map<string, (r: Reply) => void>();
  client.on("message", (topic, payload, packet) => {
    let reply: Reply;
    try {
      reply = JSON.parse(payload.toString("utf8")) as Reply;
    } catch {
      return;
    }
    replies.push(reply);
    const key = version === 5 ? packet.properties?.correlationData?.toString("utf8") : `${topic}|${reply.command_id}`;
    if (key !== undefined) waiting.get(key)?.(reply);
  });
  await client.subscribeAsync(version === 5 ? responseTopic : `${base}/+/reply`, { qos: 1 });
  return {
    client,
    replies,
    exchanges,
    async request(name, payload, o = {}) {
      const body = typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
      const id = (payload as { command_id?: unknown } | null)?.command_id;
      const correlation = randomBytes(8).toString("hex");
      const key = version === 5 ? correlation : `${base}/${name}/reply|${typeof id === "string" ? id : ""}`;
      const got = new Promise<Reply | undefined>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(key);
          resolve(undefined);
        }, o.timeoutMs ?? 5000);
        waiting.set(key, (r) => {
          exchanges.push({ name, reply: r });
          clearTimeout(timer);
          waiting.delete(key);
          resolve(r);
        });
      });
      await client.publishAsync(`${base}/${name}`, body, {
        qos: 1,
        ...o.publish,
        ...(version === 5
          ? { properties: { ...o.publish?.properties, responseTopic, correlationData: Buffer.from(correlation) } }
          : {}),
      });
      return got;
    },
    close: () => client.endAsync(true),
  };
}
