/**
 * Several apiservers behind one client: the list a user gives (`--server a,b`), and which of
 * them the client talks to now.
 *
 * The client sticks to one server: keep-alive connections and watches stay put, and every
 * apiserver of a cluster serves the same etcd, so any one will do. It moves on when that
 * server fails at the connection level or says it cannot serve (503), round-robin, and stays
 * on the new one. Concurrent requests that all saw the same server fail move the client once,
 * not once each: a failure only counts against the server it happened on.
 */

export interface ServerUrl {
  /** As given, without a trailing slash: `https://a:6443` or `https://lb/prefix`. */
  url: string;
  origin: string;
  /** A path prefix (an apiserver behind a proxy), without the trailing slash. */
  basePath: string;
}

/** Comma-separated (flags, $SHOAL_SERVER, config files) or already a list. Throws TypeError on anything but http(s) URLs. */
export function parseServers(server: string | readonly string[]): ServerUrl[] {
  const raw = (typeof server === 'string' ? server.split(',') : [...server]).map((s) => s.trim());
  if (!raw.length || raw.every((s) => s === '')) throw new TypeError('no API server URL given');
  return raw.map((s) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw new TypeError(`server must be an http or https URL, got "${s}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`server must be an http or https URL, got "${s}"`);
    const basePath = url.pathname.replace(/\/+$/, '');
    return { url: url.origin + basePath, origin: url.origin, basePath };
  });
}

export class ServerList {
  private index = 0;

  constructor(readonly all: readonly ServerUrl[]) {}

  /** The position of the server in use; a failure is reported with the position it happened at. */
  get at(): number {
    return this.index;
  }

  get current(): ServerUrl {
    return this.all[this.index]!;
  }

  get(at: number): ServerUrl {
    return this.all[at]!;
  }

  /** The server at `at` failed: move to the next one, unless someone already moved away from it. Answers whether the client now uses another server. */
  failed(at: number): boolean {
    if (this.all.length === 1) return false;
    if (at === this.index) this.index = (this.index + 1) % this.all.length;
    return this.index !== at;
  }
}
