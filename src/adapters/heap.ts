/**
 * How the station keeps V8's heap small on a gateway: V8's heuristics favour memory over speed
 * ({@link favourMemory}), and one memory-reducing garbage collection once the station has settled
 * after start-up ({@link compactHeap}).
 *
 * The compaction:
 * Why: start-up (module compilation, the config's schema and parse, the device registry) allocates
 * about 35 MiB in a third of a second, and V8 grows its young generation to the most it may (two
 * 16 MiB semi-spaces on 64-bit Node 24) and touches every page of it. An idle station then
 * allocates a few KiB a second, so V8 collects nothing for tens of minutes, and its memory reducer
 * keeps finding the allocation rate "high" (it is measured between collections, and the last one
 * was during start-up: `--trace-memory-reducer` says "high alloc" every 8 s). Until then the
 * touched young generation stays resident. One collection with V8's reduce-memory-footprint flag
 * shrinks it and gives its pages back: measured on Node 24 with one scale and one reader, 115 MiB
 * before, 95 MiB after (`npm run bench`, idle memory).
 *
 * How: V8's `gc` extension, `gc({ type: "major", execution: "sync", flavor: "last-resort" })`, which
 * is `Heap::CollectAllAvailableGarbage` (the collection V8 runs before it gives up on an allocation).
 * The extension is installed only in contexts created after `--expose-gc` is set, so the flag is set
 * at run time (v8.setFlagsFromString; it adds a function and changes no heap setting) and the
 * function taken from a fresh `vm` context. A `gc` that Node was started with (`node --expose-gc`)
 * is used as it is.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Sets V8's `--optimize-for-size` now, at run time: V8 reads it at each decision of its heap
 * heuristics (Heap::ShouldOptimizeForMemoryUsage: how far the old generation may grow before a full
 * collection, and the young generation with it), so it takes effect without a restart (V8's own
 * tests set it at run time too). Measured on Node 24 (`npm run bench`): draining a 100,000-event
 * backlog, the peak resident set went from 2.9 to 1.3 times the idle process's, at a drain rate
 * still above the bare MQTT.js loop's; over 10,000 deposits back to back, the peaks went from 1.6-1.8
 * to 1.15 times the first tenth's. A station runs a few deposits a minute: memory, which a Raspberry
 * Pi has little of, matters more than the last percent of speed.
 * @returns false when this Node refused the flag (nothing changed)
 */
export function favourMemory(): boolean {
  try {
    setFlagsFromString("--optimize-for-size");
    return true;
  } catch {
    return false;
  }
}

/** The options of V8's `gc` extension (src/extensions/gc-extension.cc, V8 11 and later). */
type GcExtension = (options?: { type?: "major" | "minor"; execution?: "sync" | "async"; flavor?: "regular" | "last-resort" }) => unknown;

/** The `gc` function of V8's extension, exposing it first when it is not; `undefined` when this Node refuses. */
function gcExtension(): GcExtension | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === "function") return exposed as GcExtension;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("gc");
    return typeof gc === "function" ? (gc as GcExtension) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs one full, memory-reducing collection now. It blocks the event loop while it runs (about 60 ms
 * on a 64-bit PC with a 30 MiB heap; some hundreds on a Raspberry Pi), so it is asked for once, when
 * the station has settled, never on a hot path.
 * @returns false when V8's `gc` extension could not be had (nothing was collected; nothing else changes)
 */
export function compactHeap(): boolean {
  const gc = gcExtension();
  if (gc === undefined) return false;
  try {
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    return true;
  } catch {
    return false;
  }
}
