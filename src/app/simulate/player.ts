/**
 * `smartbin simulate`: plays a weighing indicator, a card reader or a fill-level sensor on an existing serial port (the
 * other end of a socat pair, or a USB adapter wired to the station's input), encoding through the
 * device registry's encoders (src/protocol/registry.ts) with the protocol's own serial settings.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { SerialPort } from "serialport";
import { expectedFault } from "../../adapters/log/faults.js";
import type { DeviceCodec, SerialSettings } from "../../protocol/index.js";
import { cardAt, levelSampleAt, scaleSampleAt, type LevelPlan, type ReaderPlan, type ScalePlan } from "./programs.js";
import { RequestMatcher } from "./requests.js";

/** What to play. */
export type PlayPlan =
  | { kind: "scale"; codec: DeviceCodec<"scale">; plan: ScalePlan; periodMs: number }
  | { kind: "reader"; codec: DeviceCodec<"reader">; plan: ReaderPlan }
  | { kind: "level"; codec: DeviceCodec<"level">; plan: LevelPlan; periodMs: number };

/** Where and how to play it. */
export interface PlayOptions {
  path: string;
  serial: SerialSettings;
  /** Aborting ends the play and closes the port (SIGINT, SIGTERM). */
  signal: AbortSignal;
  /** Uniform in [0, 1): the scale's noise. */
  random: () => number;
  /** Told once, when the port is open and the first frame is about to go. */
  onStart?: () => void;
}

/** How a play ended: stopped by its signal, or the port failed (opening, or later: unplugged). */
export type PlayResult = { ok: true; frames: number } | { ok: false; stage: "open" | "write"; reason: string };

/**
 * Opens the port with `serial` settings and writes frames until `signal` aborts, then closes it.
 * Frames are scheduled on a fixed grid from the start (no drift from write times); a polled scale
 * (its protocol's `port.poll`: MT-SICS, Modbus RTU) instead answers each request the station sends
 * with the weight of that moment. Other bytes arriving on the port are read and dropped, which also
 * lets serialport notice an unplugged port.
 *
 * Never rejects for a port fault: an open failure or a port lost mid-play is a `{ok: false}` with
 * one reason in words (`no such file or directory (ENOENT)`).
 */
export async function playDevice(play: PlayPlan, opts: PlayOptions): Promise<PlayResult> {
  const port = new SerialPort({ path: opts.path, ...opts.serial, autoOpen: false });
  let lost: string | undefined;
  const ended = new AbortController();
  const onAbort = (): void => ended.abort();
  opts.signal.addEventListener("abort", onAbort, { once: true });
  port.on("error", (err: Error) => {
    lost ??= reasonOf(err);
    ended.abort();
  });
  const openError = await new Promise<Error | null>((resolve) => port.open((err) => resolve(err)));
  if (openError !== null) {
    opts.signal.removeEventListener("abort", onAbort);
    return { ok: false, stage: "open", reason: reasonOf(openError) };
  }
  port.on("close", (err: Error | null) => {
    if (err !== null && !ended.signal.aborted) lost ??= reasonOf(err);
    ended.abort();
  });
  let onData: (chunk: Uint8Array) => void = () => undefined;
  port.on("data", (chunk: Buffer) => onData(chunk));

  let frames = 0;
  const write = async (bytes: Uint8Array): Promise<void> => {
    await new Promise<void>((resolve) => {
      port.write(Buffer.from(bytes), (err) => {
        if (err) {
          lost ??= reasonOf(err);
          ended.abort();
        }
        resolve();
      });
    });
    frames++;
  };

  opts.onStart?.();
  const start = performance.now();
  // A polled scale answers each request; every other device ignores what it receives.
  const poll = play.kind === "scale" ? play.codec.port.poll : undefined;
  const requests = poll === undefined ? undefined : new RequestMatcher(poll.request);
  let answers = Promise.resolve();
  onData = (chunk) => {
    if (requests === undefined || play.kind !== "scale") return;
    for (let n = requests.push(chunk); n > 0; n--) {
      answers = answers.then(() => (ended.signal.aborted ? undefined : write(play.codec.encode(scaleSampleAt(play.plan, performance.now() - start, opts.random)))));
    }
  };
  try {
    if (requests !== undefined) {
      await untilAborted(ended.signal);
      await answers;
    } else if (play.kind === "scale" || play.kind === "level") {
      for (let n = 0; !ended.signal.aborted; n++) {
        await untilAt(start + n * play.periodMs, ended.signal);
        if (ended.signal.aborted) break;
        const elapsed = performance.now() - start;
        await write(play.kind === "scale" ? play.codec.encode(scaleSampleAt(play.plan, elapsed, opts.random)) : play.codec.encode(levelSampleAt(play.plan, elapsed, opts.random)));
      }
    } else {
      const tickMs = play.plan.repeatMs ?? play.plan.everyMs;
      let lastPresentation = -1;
      for (let n = 0; !ended.signal.aborted; n++) {
        await untilAt(start + n * Math.min(tickMs, play.plan.everyMs), ended.signal);
        if (ended.signal.aborted) break;
        const now = cardAt(play.plan, performance.now() - start);
        if (now === null) continue;
        if (play.plan.repeatMs === undefined && now.presentation === lastPresentation) continue;
        lastPresentation = now.presentation;
        await write(play.codec.encode(now.sample));
      }
    }
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  }
  return lost === undefined ? { ok: true, frames } : { ok: false, stage: "write", reason: lost };
}

/** Waits until `signal` aborts. */
async function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** Waits until the monotonic time `at` (ms, `performance.now()`), or until `signal` aborts. */
async function untilAt(at: number, signal: AbortSignal): Promise<void> {
  const wait = at - performance.now();
  if (wait <= 0) return;
  await sleep(wait, undefined, { signal }).catch(() => undefined);
}

/** An error as one reason in words: the expected fault's text, else the message. */
function reasonOf(err: Error): string {
  return expectedFault(err)?.reason ?? err.message;
}
