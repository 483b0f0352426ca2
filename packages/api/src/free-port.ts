import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * A port for a process that is told its number before it listens (QEMU's incoming migration,
 * a temporary etcd, the processes of tests). Ports are drawn from below the kernel's ephemeral
 * range, not from it (listen(0) would hand out an ephemeral port): every outgoing connection
 * takes an ephemeral port as its local end, so a port that was free a moment ago there can be
 * some client socket's by the time the process binds it, and the process fails with "address
 * already in use". Below the range only listeners that asked for a port by number compete, and
 * the draw is random so that processes picking ports side by side rarely ask for the same one.
 */
const LOWEST_PORT = 15_000;
/** Read at the first call, not when the package loads. */
let ephemeralLow: number | undefined;
/**
 * The ports this process handed out last, not handed out again even once closed: their process
 * may not have bound them yet. Bounded, for a long-lived agent (in insertion order: oldest first).
 */
const handedOut = new Set<number>();
const REMEMBERED = 1_024;

/** A TCP port that was free a moment ago on `host`, outside the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  ephemeralLow ??= readEphemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (ephemeralLow - LOWEST_PORT));
    if (handedOut.has(port)) continue;
    if (await canListen(host, port)) {
      handedOut.add(port);
      if (handedOut.size > REMEMBERED) handedOut.delete(handedOut.values().next().value!);
      return port;
    }
  }
  throw new Error(`freePort: no free port found between ${LOWEST_PORT} and ${ephemeralLow - 1}`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

function readEphemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST_PORT + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}
