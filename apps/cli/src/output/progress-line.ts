/**
 * One line of progress on stderr for a long operation: redrawn in place on a terminal (at most
 * every 100 ms), printed as a line of its own at most every 5 s otherwise (logs, CI), and closed
 * by a last line either way.
 */
import { fitToWidth, formatBytes, formatRate, fractionDone, RateMeter } from './progress.js';

const TERMINAL_EVERY_MS = 100;
const LOG_EVERY_MS = 5_000;

export class ProgressLine {
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = Date.now,
  ) {}

  update(text: string): void {
    const at = this.now();
    if (at - this.lastAt < (this.out.isTTY ? TERMINAL_EVERY_MS : LOG_EVERY_MS)) return;
    this.lastAt = at;
    if (this.out.isTTY) this.out.write(`\r\x1b[K${fitToWidth(text, this.out.columns)}`);
    else this.out.write(`${text}\n`);
  }

  done(text: string): void {
    this.out.write(this.out.isTTY ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}

/** `snapshot: 12.0 MiB of 40.0 MiB (30%), 8.5 MiB/s`: bytes so far, of the total when known, and the rate once measured. */
export function bytesProgressText(label: string, bytes: number, total: number | undefined, meter: RateMeter): string {
  const fraction = fractionDone(bytes, total);
  const rate = meter.rate();
  return [
    `${label}: ${formatBytes(bytes)}`,
    total !== undefined ? ` of ${formatBytes(total)}` : '',
    fraction !== undefined ? ` (${Math.floor(fraction * 100)}%)` : '',
    rate !== undefined ? `, ${formatRate(rate)}` : '',
  ].join('');
}
