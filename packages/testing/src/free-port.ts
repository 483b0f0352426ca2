import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports are drawn from below the kernel's ephemeral range, not from it (listen(0) would hand
 * out an ephemeral port). The suite opens thousands of outgoing connections, each taking an
 * ephemeral port as its local end: a port that was free a moment ago there can be some client
 * socket's by the time etcd binds it, and the member dies with "address already in use".
 * Below the range only listeners that asked for a port by number compete, and the draw is
 * random so that test files running side by side rarely ask for the same one.
 */
const LOWEST_PORT = 15_000;
const ephemeralLow = readEphemeralLow();
/** Ports this process handed out: never handed out twice, even after the test closed them. */
const handedOut = new Set<number>();

/** A TCP port that was free a moment ago on 127.0.0.1, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (ephemeralLow - LOWEST_PORT));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port found between ${LOWEST_PORT} and ${ephemeralLow - 1}`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
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
