/**
 * Pieces of progress output, as pure functions of numbers: byte counts and rates in binary units
 * (`48.0 MiB`, `12.5 MiB/s`), short durations (`250ms`, `8.2s`, `1m20s`), a text bar, and a rate
 * measured over a sliding window of samples. No terminal handling here: callers decide where
 * and how often a line is written.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 B`, `512 B`, `1.0 KiB`, `48.0 MiB`, `1.5 GiB`: one decimal from KiB up. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  // Round first, so 1023.96 KiB becomes 1.0 MiB rather than 1024.0 KiB.
  while (unit < UNITS.length - 1 && Math.round(value * 10) / 10 >= 1024) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `12.0 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/**
 * A duration precise where it matters for a step that may take milliseconds: `250ms`, `8.2s`,
 * `42s`, `1m20s`, `2h5m`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) {
    const tenths = Math.round(ms / 100) / 10;
    return tenths < 10 ? `${tenths.toFixed(1)}s` : '10s';
  }
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
}

/** A duration a person watches tick by, in whole seconds: `0s`, `7s`, `42s`, `1m20s`. */
export function formatSeconds(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const seconds = Math.floor(ms / 1000);
  return seconds < 60 ? `${seconds}s` : formatDuration(seconds * 1000);
}

/** done/total as a fraction in [0, 1]; undefined without a positive total. */
export function fractionDone(done: number | undefined, total: number | undefined): number | undefined {
  if (done === undefined || total === undefined || !(total > 0)) return undefined;
  return Math.min(1, Math.max(0, done / total));
}

/** `[=========>          ]`, `width` characters inside the brackets. */
export function progressBar(fraction: number, width: number): string {
  const inside = Math.max(1, Math.floor(width));
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.floor(f * inside);
  if (filled >= inside) return `[${'='.repeat(inside)}]`;
  return `[${'='.repeat(filled)}>${' '.repeat(inside - filled - 1)}]`;
}

/** How long until `remaining` bytes are sent at `bytesPerSecond`, in whole seconds rounded up; undefined when unknown. */
export function eta(remaining: number | undefined, bytesPerSecond: number | undefined): string | undefined {
  if (remaining === undefined || bytesPerSecond === undefined || !(bytesPerSecond > 0) || remaining < 0) return undefined;
  return formatSeconds(Math.ceil(remaining / bytesPerSecond) * 1000);
}

/** A line cut to fit a terminal `columns` wide (one column spare, so it never wraps), with an ellipsis when cut. */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (!columns || columns < 2 || line.length < columns) return line;
  return `${line.slice(0, columns - 2)}…`;
}

export interface ByteSample {
  /** Milliseconds, any clock that only goes forward. */
  at: number;
  bytes: number;
}

/**
 * The rate of a growing byte count, over the samples of the last `windowMs`: steadier than the
 * last two samples, quicker to follow a change than the average since the start. A count that
 * goes down (a transfer that started over) starts the measurement over.
 */
export class RateMeter {
  private samples: ByteSample[] = [];

  constructor(private readonly windowMs = 10_000) {}

  add(at: number, bytes: number): void {
    const last = this.samples.at(-1);
    if (last && (bytes < last.bytes || at < last.at)) this.samples = [];
    this.samples.push({ at, bytes });
    const keepFrom = at - this.windowMs;
    // Keep one sample at or before the window's start, so the window is covered end to end.
    while (this.samples.length > 2 && this.samples[1]!.at <= keepFrom) this.samples.shift();
  }

  /** Bytes per second; undefined until two samples at least half a second apart. */
  rate(): number | undefined {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 500) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  reset(): void {
    this.samples = [];
  }
}
