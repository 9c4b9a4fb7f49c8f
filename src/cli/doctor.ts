import { formatProblem, loadConfigFile } from "../config/load.js";
import { doctorExitCode, doctorJson, formatResult, runDoctor, type DoctorTiming } from "../app/doctor/doctor.js";
import { systemProbes } from "../app/doctor/system-probes.js";
import { EXIT } from "./exit-codes.js";

/**
 * `smartbin doctor [FILE | -c FILE] [--json]` (contract.md section 1): one line per check on `out`,
 * `ok|warn|fail CHECK: message`, or with `json` one JSON object `{config, checks: [{name, level,
 * message, details}], summary}`. An invalid config prints its problems as `config check` does
 * (or, with `json`, one failed `config` check carrying them) and returns 78; otherwise 1 when any
 * check failed, else 0.
 */
export async function runDoctorCommand(
  configFile: string,
  opts: { json: boolean; timing?: DoctorTiming },
  out: (line: string) => void,
): Promise<number> {
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) {
    const lines = loaded.problems.map(formatProblem);
    const message = `${configFile} is invalid (${lines.length} problem${lines.length === 1 ? "" : "s"}): fix ${lines.length === 1 ? "it" : "them"}, then run smartbin config check ${configFile}`;
    if (opts.json) {
      out(JSON.stringify(doctorJson(configFile, [{ name: "config", level: "fail", message, details: { problems: lines } }])));
    } else {
      for (const line of lines) out(line);
      out(`fail config: ${message}`);
    }
    return EXIT.CONFIG;
  }
  const results = await runDoctor(loaded.config, { file: configFile, warnings: loaded.warnings }, systemProbes(loaded.config), opts.timing);
  if (opts.json) out(JSON.stringify(doctorJson(configFile, results)));
  else for (const r of results) out(formatResult(r));
  return doctorExitCode(results);
}
