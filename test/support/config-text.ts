/** Config text checked as the file `c.yaml` in /etc/smartbin, for tests of the config and its uses. */
import { checkConfigText, formatProblem } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";

/** The problem lines of `text`, `[]` when it is valid. */
export function problemLines(text: string): string[] {
  const result = checkConfigText(text, "c.yaml", "/etc/smartbin");
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** The validated config of `text`; throws with the problem lines when it is invalid. */
export function validConfig(text: string): Readonly<Config> {
  const result = checkConfigText(text, "c.yaml", "/etc/smartbin");
  if (!result.ok) throw new Error(result.problems.map(formatProblem).join("\n"));
  return result.config;
}
