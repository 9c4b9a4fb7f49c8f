import type { Writable } from "node:stream";

/** Errors that mean the reading end went away (`smartbin outbox list | head -1`), not a failure. */
const READER_GONE = new Set(["EPIPE", "ERR_STREAM_DESTROYED"]);

function readerGone(err: unknown): boolean {
  return READER_GONE.has((err as NodeJS.ErrnoException | null)?.code ?? "");
}

/**
 * Writes a command's data to a stream (stdout) with backpressure: each chunk is handed over only
 * once the previous one has been written, so a slow pipe holds at most one chunk in memory. A
 * reader that goes away (EPIPE; Node ignores SIGPIPE) ends the output quietly: {@link write}
 * resolves `false` and the command stops producing and exits 0, as `cat` and `grep` do under `head`.
 */
export class PipeWriter {
  private gone = false;
  // Kept for the process's life once the reader is gone: the stream emits its 'error' after the
  // write callback, and an 'error' without a listener would crash the command.
  private readonly onError = (err: Error): void => {
    if (readerGone(err)) this.gone = true;
  };

  constructor(private readonly stream: Writable) {
    stream.on("error", this.onError);
  }

  /**
   * Writes `chunk` (UTF-8) and waits until it is written.
   *
   * @returns `true` when written, `false` when the reader has gone away (nothing more should be written).
   * @throws the stream's error for any other write failure (a full disk behind a redirect, say).
   */
  async write(chunk: string): Promise<boolean> {
    if (this.gone || this.stream.destroyed) return false;
    const err = await new Promise<Error | null | undefined>((resolve) => this.stream.write(chunk, "utf8", resolve));
    if (err == null) return true;
    if (readerGone(err)) {
      this.gone = true;
      return false;
    }
    throw err;
  }

  /** Stops listening for the stream's errors, unless the reader went away (see the listener). */
  release(): void {
    if (!this.gone) this.stream.off("error", this.onError);
  }
}
