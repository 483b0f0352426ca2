/**
 * How every long wait of shoalctl shows itself (delete --wait, drain, migrate, backup, restore):
 * what it waits for and where that stands, on stderr. On a terminal, one line redrawn in place
 * on each change and every second, so the time waited ticks on even while nothing else moves;
 * otherwise (logs, CI, pipes) a plain line at each change of phase only, so a log holds the story
 * and not a line per second. A wait may have a deadline: past it the wait's signal aborts and
 * waitWithProgress throws a WaitTimeoutError naming what it waited for and where it stood.
 */
import { fitToWidth, formatDuration, formatSeconds, progressBar } from './progress.js';

export interface WaitStatus {
  /** What plain output reports the changes of: `Running`, `2 VMs left`. */
  phase: string;
  /** Figures within the phase (`48.0 MiB/256.0 MiB`): shown with it, but a change of them alone prints no plain line. */
  detail?: string;
  /** Done, from 0 to 1, when known: a bar on a terminal. */
  fraction?: number;
  /** The terminal line, when the default one says too little (migrate: rate and ETA). */
  terminalLine?: (elapsedMs: number, columns: number | undefined) => string;
}

/** Where progress goes: stderr, or a stand-in in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface WaitOptions {
  /** What is waited for, as each line starts: `migration web-x7k2p`, `draining node/host-3`. */
  subject: string;
  /** No deadline when absent or 0. */
  timeoutMs?: number;
  /** Ends the wait early (Ctrl-C): the body sees its signal abort, and answers what it makes of that. */
  signal?: AbortSignal;
  /** process.stderr unless given. */
  out?: ProgressStream;
  /** How often a terminal line is redrawn with nothing new but the time (1 s). */
  tickMs?: number;
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
    readonly last: WaitStatus | undefined,
  ) {
    super(`timed out after ${formatDuration(timeoutMs)} waiting for ${subject}${last ? ` (${statusText(last)})` : ''}`);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Runs `body` with a progress reporter and a signal that aborts at the deadline (or with
 * opts.signal). Answers what body answers; past the deadline throws WaitTimeoutError at once,
 * whatever body is still doing (its signal tells it to stop). The terminal line is cleared at
 * the end, so what the command prints next stands alone.
 */
export async function waitWithProgress<T>(opts: WaitOptions, body: (progress: WaitProgress, signal: AbortSignal) => Promise<T>): Promise<T> {
  const progress = new WaitProgress(opts.subject, opts.out ?? process.stderr);
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const ticker = setInterval(() => progress.tick(), opts.tickMs ?? 1000);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    if (!opts.timeoutMs) return;
    timer = setTimeout(() => reject(new WaitTimeoutError(opts.subject, opts.timeoutMs!, progress.last)), opts.timeoutMs);
  });
  try {
    const work = body(progress, signal);
    // Once the deadline has won, whatever the body throws while it stops is not news.
    work.catch(() => undefined);
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    stop.abort();
    progress.close();
  }
}

/** The reporter a waiting body is given. */
export class WaitProgress {
  /** The latest status, for the timeout's message. */
  last: WaitStatus | undefined;
  private readonly startedAt = Date.now();
  private printedPhase: string | undefined;
  private drawn = false;

  constructor(
    private readonly subject: string,
    private readonly out: ProgressStream,
  ) {}

  update(status: WaitStatus): void {
    this.last = status;
    if (this.out.isTTY) this.draw();
    else if (status.phase !== this.printedPhase) {
      this.printedPhase = status.phase;
      this.out.write(`${this.subject}: ${statusText(status)}\n`);
    }
  }

  /** A line of its own above the progress line: on stderr, or on `stream` (a command's stdout lines). */
  note(text: string, stream: ProgressStream = this.out): void {
    this.clear();
    stream.write(`${text}\n`);
    if (this.out.isTTY && this.last) this.draw();
  }

  /** Redraws the terminal line for the time that passed. */
  tick(): void {
    if (this.out.isTTY && this.last) this.draw();
  }

  close(): void {
    this.clear();
  }

  private draw(): void {
    const status = this.last!;
    const elapsed = Date.now() - this.startedAt;
    const line = status.terminalLine?.(elapsed, this.out.columns) ?? defaultTerminalLine(this.subject, status, elapsed, this.out.columns);
    this.out.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** `Running 48.0 MiB/256.0 MiB`: the phase and its figures. */
export function statusText(status: WaitStatus): string {
  return status.detail ? `${status.phase} ${status.detail}` : status.phase;
}

const BAR_WIDTH = 20;

/** `draining node/host-3: 2 VMs left default/a, default/b  [==========>         ]  12s`, cut to the terminal. */
export function defaultTerminalLine(subject: string, status: WaitStatus, elapsedMs: number, columns: number | undefined): string {
  const bar = status.fraction !== undefined ? `  ${progressBar(status.fraction, BAR_WIDTH)}` : '';
  const time = `  ${formatSeconds(elapsedMs)}`;
  const head = `${subject}: ${statusText(status)}`;
  // The head is what gets cut, so the bar and the time stay in view.
  const room = columns ? columns - 1 - bar.length - time.length : undefined;
  return `${room !== undefined && room > 10 ? fitToWidth(head, room + 1) : head}${bar}${time}`;
}
