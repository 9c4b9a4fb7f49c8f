/**
 * The `smartbin config …` commands and the choice of config file (contract.md section 1). Output
 * goes through `out`, one line per call, so the CLI decides the stream.
 */
import { configJsonSchema } from "../config/json-schema.js";
import { formatProblem, formatWarning, loadConfigFile } from "../config/load.js";
import { EXIT } from "./exit-codes.js";

/** The config file used when neither `-c/--config` nor `$SMARTBIN_CONFIG` names one. */
export const DEFAULT_CONFIG_PATH = "/etc/smartbin/config.yaml";

/**
 * `smartbin config check`: prints every problem of `file` as `FILE:LINE:COL: path: message`, or,
 * for a valid file, every warning as `FILE:LINE:COL: path: warning: message` and then `FILE: ok`.
 * Returns 0 when valid (warnings or not), 78 when not (missing and unreadable files included).
 */
export function runConfigCheck(file: string, out: (line: string) => void): number {
  const result = loadConfigFile(file);
  if (result.ok) {
    for (const warning of result.warnings) out(formatWarning(warning));
    out(`${file}: ok`);
    return EXIT.OK;
  }
  for (const problem of result.problems) out(formatProblem(problem));
  return EXIT.CONFIG;
}

/** `smartbin config schema`: prints the config's JSON Schema (draft 2020-12, pretty JSON). Returns 0. */
export function runConfigSchema(out: (line: string) => void): number {
  out(JSON.stringify(configJsonSchema(), null, 2));
  return EXIT.OK;
}

/**
 * The config file a command names: `-c/--config FILE` or a positional `FILE` (`smartbin config
 * check FILE`), which are the same; both given and different is a usage error (the message), else
 * the one given, or `undefined` when neither is.
 */
export function configFileArgument(positional: string | undefined, option: string | undefined): { file?: string; error?: string } {
  if (positional !== undefined && option !== undefined && positional !== option) {
    return { error: `two config files given: ${JSON.stringify(positional)} and -c ${JSON.stringify(option)}; give one` };
  }
  const file = positional ?? option;
  return file === undefined ? {} : { file };
}

/**
 * The config file to use: the `-c/--config` value, else `$SMARTBIN_CONFIG`, else
 * `/etc/smartbin/config.yaml`. An empty value counts as not given, and so do `false` and `0` in
 * the variable (contract.md section 2: from the environment, "false" and "0" mean false).
 */
export function resolveConfigPath(optionValue?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (optionValue !== undefined && optionValue !== "") return optionValue;
  const fromEnv = env.SMARTBIN_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "" && fromEnv !== "false" && fromEnv !== "0") return fromEnv;
  return DEFAULT_CONFIG_PATH;
}
