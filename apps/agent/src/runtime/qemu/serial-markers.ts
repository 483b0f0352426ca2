/** What the guest init says on the serial console (see deploy/guest/init), read from the log. */
export interface BootMarkers {
  booted?: { uid: string; ip?: string };
  exitCode?: number;
  shutdown: boolean;
}

/** Reads the markers of the current boot from the part of serial.log written since it started. */
export function parseMarkers(text: string, uid: string): BootMarkers {
  const out: BootMarkers = { shutdown: false };
  for (const line of text.split('\n')) {
    const booted = /^SHOAL-BOOTED uid=(\S+) ip=(\S+)/.exec(line);
    if (booted && booted[1] === uid) out.booted = { uid, ip: booted[2] === 'none' ? undefined : booted[2] };
    const exit = /^SHOAL-EXIT code=(\d+)/.exec(line);
    if (exit) out.exitCode = Number(exit[1]);
    if (line.startsWith('SHOAL-SHUTDOWN')) out.shutdown = true;
  }
  return out;
}

/**
 * Reads a growing console log incrementally: each call parses only the bytes added since the
 * last one, keeping a partial last line for next time, and accumulates the markers seen.
 */
export class MarkerScanner {
  readonly markers: BootMarkers = { shutdown: false };
  private partial = '';

  constructor(
    private readonly uid: string,
    /** Where this boot's output starts in the log. */
    public offset: number,
  ) {}

  feed(chunk: string): void {
    const text = this.partial + chunk;
    const end = text.lastIndexOf('\n');
    this.partial = end < 0 ? text : text.slice(end + 1);
    if (end < 0) return;
    const found = parseMarkers(text.slice(0, end), this.uid);
    if (found.booted) this.markers.booted = found.booted;
    if (found.exitCode !== undefined) this.markers.exitCode = found.exitCode;
    if (found.shutdown) this.markers.shutdown = true;
  }
}
