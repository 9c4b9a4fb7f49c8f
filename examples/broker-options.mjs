// The options both example tools take to reach a station through its broker (docs/mqtt-api.md,
// "Connecting"): the broker URL, the station's topic prefix and id, the MQTT version, a client id,
// and credentials and TLS files. Plain Node ESM with the `mqtt` package's conventions, no project
// imports.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

/** A usage error: printed with the usage, exit 64. */
export class UsageError extends Error {}

/** `node:util` parseArgs specs of the shared options. */
export const BROKER_OPTIONS = {
  url: { type: "string", default: "mqtt://127.0.0.1:1883" },
  prefix: { type: "string", default: "smartbin" },
  station: { type: "string" },
  protocol: { type: "string", default: "5" },
  "client-id": { type: "string" },
  username: { type: "string" },
  "password-file": { type: "string" },
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", default: false },
};

/**
 * The shared options, checked: `{url, prefix, station, protocol, clientId, auth}`; the client id
 * defaults to `smartbin-<tool>-<random>`.
 *
 * @throws UsageError for a missing --station, a --protocol other than 5 or 4
 */
export function brokerSettings(v, tool) {
  if (v.station === undefined) throw new UsageError("missing --station");
  const protocol = Number(v.protocol);
  if (protocol !== 5 && protocol !== 4) throw new UsageError("--protocol must be 5 or 4");
  return {
    url: v.url,
    prefix: v.prefix.replace(/\/+$/, ""),
    station: v.station,
    protocol,
    clientId: v["client-id"] ?? `smartbin-${tool}-${randomUUID().slice(0, 8)}`,
    auth: { username: v.username, passwordFile: v["password-file"], ca: v.ca, cert: v.cert, key: v.key },
  };
}

/** MQTT.js options for credentials and TLS files (the password is the file's first line). */
export function connectAuth(auth) {
  const file = (p) => (p === undefined ? undefined : readFileSync(p));
  return {
    ...(auth.username !== undefined ? { username: auth.username } : {}),
    ...(auth.passwordFile !== undefined ? { password: readFileSync(auth.passwordFile, "utf8").split(/\r?\n/)[0] } : {}),
    ...(auth.ca !== undefined ? { ca: file(auth.ca) } : {}),
    ...(auth.cert !== undefined ? { cert: file(auth.cert) } : {}),
    ...(auth.key !== undefined ? { key: file(auth.key) } : {}),
  };
}
