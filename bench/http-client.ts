/** Keep-alive HTTP to the apiserver through an undici Pool: one connection per request in flight. */
import { BalancedPool, Pool, type Dispatcher } from 'undici';

export interface Reply {
  status: number;
  text: string;
}

const POOL_OPTIONS = { pipelining: 1, keepAliveTimeout: 120_000, headersTimeout: 60_000, bodyTimeout: 60_000 };

export function apiPool(url: string, connections: number): Pool {
  return new Pool(url, { ...POOL_OPTIONS, connections });
}

/** Requests spread round-robin over several apiservers, `connections` in all. */
export function spreadPool(urls: string[], connections: number): Dispatcher {
  if (urls.length === 1) return apiPool(urls[0]!, connections);
  return new BalancedPool(urls, { ...POOL_OPTIONS, connections: Math.ceil(connections / urls.length) });
}

/** One request; throws when the status is not `expect`, so load phases count it as a failure. */
export async function call(
  pool: Dispatcher,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  opts: { body?: unknown; contentType?: string; expect?: number } = {},
): Promise<Reply> {
  const res = await pool.request({
    method,
    path,
    headers: opts.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': opts.contentType ?? 'application/json' },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.body.text();
  const expect = opts.expect ?? (method === 'POST' ? 201 : 200);
  if (res.statusCode !== expect) throw new Error(`${method} ${path.split('?')[0]}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  return { status: res.statusCode, text };
}
