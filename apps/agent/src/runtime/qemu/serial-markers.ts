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
