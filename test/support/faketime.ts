import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/**
 * libfaketime's preload library: Debian's `libfaketime` package puts it under the multiarch folder
 * (`dpkg -L libfaketime`: /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 on amd64,
 * /usr/lib/aarch64-linux-gnu/faketime/ on arm64); a build from source under /usr/local/lib/faketime.
 * `undefined` when it is not installed.
 */
export function findLibfaketime(): string | undefined {
  const dirs = ["/usr/local/lib/faketime", "/usr/lib/faketime"];
  try {
    for (const d of readdirSync("/usr/lib")) if (d.endsWith("-linux-gnu")) dirs.push(join("/usr/lib", d, "faketime"));
  } catch {
    // no /usr/lib: not found
  }
  return dirs.map((d) => join(d, "libfaketime.so.1")).find((f) => existsSync(f));
}
