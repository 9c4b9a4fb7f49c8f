/**
 * Lines of a readable account plus one progress line, on a stream that may or may not be a terminal.
 *
 * On a terminal the progress line is the last line on screen, redrawn in place: carriage return,
 * then ECMA-48 EL with parameter 2 (`CSI 2 K`, erase the whole line), then the new text, cut to the
 * terminal's width so that it never wraps (a wrapped line cannot be redrawn with a carriage return).
 * Before an account line it is erased, and drawn again after it. On anything else (a file, a pipe,
 * journald) nothing is ever redrawn: a progress line is printed as a line of its own, and only after
 * `quietMs` without any output, so a log keeps a sign of life without filling up.
 */

/** CR, then erase the whole line (ECMA-48 8.3.41, EL: `CSI Ps K`, Ps = 2). */
const ERASE_LINE = "\r\x1b[2K";

export interface StoryStreamOptions {
  /** Writes text to the stream as it is (no newline added). */
  write: (text: string) => void;
  /** The stream is a terminal: the progress line is drawn in place. */
  tty: boolean;
  /** The terminal's width in columns, when known (`process.stderr.columns`). */
  columns?: () => number | undefined;
  /** Not a terminal: the silence (ms) after which a progress line is printed. Default 4000. */
  quietMs?: number;
  /** A monotonic clock in ms (tests pass a manual one). Default `performance.now`. */
  now?: () => number;
}

/** See the module comment. Not safe to share with other writers of the same terminal line. */
export class StoryStream {
  private readonly now: () => number;
  private readonly quietMs: number;
  /** The progress text on screen (terminal only), `""` when none is drawn. */
  private drawn = "";
  private lastOutput: number;

  constructor(private readonly opts: StoryStreamOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.quietMs = opts.quietMs ?? 4_000;
    this.lastOutput = this.now();
  }

  /** Writes one line of the account (without its newline); the progress line stays below it. */
  line(text: string): void {
    if (this.drawn !== "") {
      this.opts.write(`${ERASE_LINE}${text}\n${this.drawn}`);
    } else {
      this.opts.write(`${text}\n`);
    }
    this.lastOutput = this.now();
  }

  /**
   * Shows where things stand: on a terminal, replaces the progress line (unchanged text is not
   * redrawn); elsewhere, prints `text` as a line once `quietMs` have passed without output.
   */
  progress(text: string): void {
    if (this.opts.tty) {
      const fitted = fit(text, this.opts.columns?.());
      if (fitted === this.drawn) return;
      this.opts.write(`${ERASE_LINE}${fitted}`);
      this.drawn = fitted;
      return;
    }
    if (this.now() - this.lastOutput < this.quietMs) return;
    this.line(text);
  }

  /**
   * Runs `write`, which puts whole lines on the same terminal through another stream (the JSON on
   * stdout with `--json`), with the progress line erased before and drawn again after it. `write`
   * must write synchronously (Node writes to a terminal synchronously on POSIX systems: see "A note on
   * process I/O" in Node's `process` documentation).
   */
  interject(write: () => void): void {
    if (this.drawn === "") {
      write();
      return;
    }
    this.opts.write(ERASE_LINE);
    write();
    this.opts.write(this.drawn);
  }

  /** Erases the progress line (terminal), so that what follows starts on a clean line. */
  clearProgress(): void {
    if (this.drawn === "") return;
    this.opts.write(ERASE_LINE);
    this.drawn = "";
  }
}

/** Cuts `text` to one column less than the terminal's width (a full-width line wraps on some terminals). */
function fit(text: string, columns: number | undefined): string {
  if (columns === undefined || columns < 2) return text;
  const chars = [...text];
  return chars.length < columns ? text : chars.slice(0, columns - 2).join("") + "…";
}
