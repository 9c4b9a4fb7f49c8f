import { runOutboxStatus } from "../adapters/outbox/status-command.js";
import { loadConfigOrReport } from "./load.js";
import { EXIT } from "./exit-codes.js";

/** `smartbin outbox status [-c FILE] [--json]`: reads the database named by the config, never creates it. */
export function runOutboxStatusCommand(
  configFile: string,
  json: boolean,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  const config = loadConfigOrReport(configFile, err);
  if (config === null) return EXIT.CONFIG;
  try {
    return runOutboxStatus(config.storage.path, json, out, err);
  } catch (e) {
    err(`smartbin outbox status: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILURE;
  }
}
