/**
 * The broker connection of a config, as the publisher and `smartbin doctor` connect with it.
 */
import { readFileSync } from "node:fs";
import type { PublisherConnectionSettings } from "../adapters/mqtt/publisher.js";
import { readPasswordFile } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { SmartbinError } from "../errors.js";

/**
 * The broker connection settings of a config (contract section 2 `mqtt`): TLS material read from
 * its files, the password from `mqtt.password_file` (its first line) or `mqtt.password`.
 *
 * @throws SmartbinError `CONFIG_INVALID` when the password file cannot be read (the config check
 *   read it; only a file removed or changed since gets here)
 */
export function connectionSettings(c: Readonly<Config>): PublisherConnectionSettings {
  const fromFile = c.mqtt.password_file === undefined ? undefined : readPasswordFile(c.mqtt.password_file);
  if (fromFile?.ok === false) {
    throw new SmartbinError("CONFIG_INVALID", `mqtt.password_file: cannot read ${c.mqtt.password_file}: ${fromFile.problem}`, { path: c.mqtt.password_file });
  }
  const tlsFile = (p: string | undefined) => (p ? readFileSync(p) : undefined);
  return {
    url: c.mqtt.url,
    topicPrefix: c.mqtt.topic_prefix,
    protocolVersion: c.mqtt.protocol_version,
    keepaliveS: c.mqtt.keepalive_s,
    clientId: c.mqtt.client_id,
    username: c.mqtt.username,
    password: fromFile?.ok === true ? fromFile.password : c.mqtt.password,
    ca: tlsFile(c.mqtt.ca_file),
    cert: tlsFile(c.mqtt.cert_file),
    key: tlsFile(c.mqtt.key_file),
    tlsInsecure: c.mqtt.tls_insecure,
    sessionExpiryS: c.mqtt.session_expiry_s,
  };
}
