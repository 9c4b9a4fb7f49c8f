/**
 * A datagram socket of the test's own, standing in for systemd's `$NOTIFY_SOCKET` (no systemd runs
 * here): `socat -u -v UNIX-RECV:PATH /dev/null`. With `-v` socat writes a header per datagram read,
 * `> DATE length=N from=A to=B`, followed by its N bytes, on stderr; that is how datagrams are told
 * apart (their bytes alone would run together).
 *
 * A message from systemd-notify(1) comes with a second datagram, `BARRIER=1`, which carries a pipe
 * that PID 1 would close (sd_notify_barrier(3)); socat keeps it open, so each systemd-notify here
 * waits 5 s and then fails. The messages themselves arrive before that.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A listening notify socket and the datagrams it received, each split into its lines. */
export interface NotifySocket {
  path: string;
  /** Every datagram so far, as lines (`["MAINPID=12", "READY=1"]`), barriers included. */
  datagrams(): string[][];
  /**
   * The datagrams without the `BARRIER=1` ones, without `MAINPID=` lines, and without the
   * `ERRNO=110` that systemd-notify sends when its barrier times out here.
   */
  messages(): string[][];
  close(): Promise<void>;
}

/** Starts socat on a fresh socket path; resolves once the socket exists. */
export async function openNotifySocket(): Promise<NotifySocket> {
  const dir = await mkdtemp(join(tmpdir(), "smartbin-notify-"));
  const path = join(dir, "notify");
  const proc: ChildProcess = spawn("socat", ["-u", "-v", `UNIX-RECV:${path}`, "/dev/null"], { stdio: ["ignore", "ignore", "pipe"] });
  let raw = Buffer.alloc(0);
  proc.stderr!.on("data", (b: Buffer) => (raw = Buffer.concat([raw, b])));
  for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(path)) throw new Error("socat did not create the notify socket");
  const datagrams = (): string[][] => {
    const out: string[][] = [];
    let at = 0;
    for (;;) {
      const nl = raw.indexOf(10, at);
      if (nl < 0) break;
      const header = /length=(\d+)/.exec(raw.subarray(at, nl).toString("latin1"));
      if (header === null) break;
      const n = Number(header[1]);
      if (nl + 1 + n > raw.length) break;
      out.push(raw.subarray(nl + 1, nl + 1 + n).toString("utf8").split("\n").filter((l) => l !== ""));
      at = nl + 1 + n;
    }
    return out;
  };
  return {
    path,
    datagrams,
    messages: () =>
      datagrams()
        .filter((d) => !(d.length === 1 && d[0] === "BARRIER=1"))
        .map((d) => d.filter((l) => !l.startsWith("MAINPID=") && !l.startsWith("ERRNO=")))
        .filter((d) => d.length > 0),
    close: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
