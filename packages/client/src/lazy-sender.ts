/** Picks an HttpSender and loads its module only when the first request goes out (see http-sender.ts). */
import type { HttpImplementation, HttpSender, TlsSettings } from './http-sender.js';

/** A sender of the chosen implementation, its module loaded when the first request goes out. */
export function lazySender(implementation: HttpImplementation, tls: TlsSettings): HttpSender {
  let loaded: Promise<HttpSender> | undefined;
  const load = () =>
    (loaded ??=
      implementation === 'node'
        ? import('./node-http-sender.js').then((m) => new m.NodeHttpSender(tls))
        : import('./undici-sender.js').then((m) => new m.UndiciSender(tls)));
  return {
    send: async (url, opts) => (await load()).send(url, opts),
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
}
