import { formatProblem, loadConfigFile, type LoadOptions } from "../config/load.js";
import type { Config } from "../config/schema.js";

/**
 * Loads and validates the config for a command. On problems, prints every one on stderr in the
 * `config check` form and returns `null`: the caller exits 78 before touching anything. `opts`:
 * {@link LoadOptions} (`storage: "read"` for the commands that only read the database).
 */
export function loadConfigOrReport(file: string, err: (line: string) => void, opts: LoadOptions = {}): Readonly<Config> | null {
  const loaded = loadConfigFile(file, opts);
  if (loaded.ok) return loaded.config;
  for (const p of loaded.problems) err(formatProblem(p));
  return null;
}
