/**
 * Liveness and readiness as Kubernetes serves them (k8s.io/apiserver/pkg/server/healthz): each
 * endpoint runs named checks; `?verbose` lists them as `[+]name ok` / `[-]name failed: why`,
 * `?exclude=name` skips one, `/readyz/<name>` runs one alone. A failure always answers with
 * the list (503 here, the code load balancers treat as "send nowhere"). Unlike Kubernetes the
 * reason is shown, not withheld: it is etcd's own error text, and it is what an operator needs.
 *
 * Liveness is only "the process answers": restarting an apiserver cannot bring etcd back.
 * Readiness is etcd (a linearizable read, so a member without quorum fails it) and the watch
 * cache (synced, its etcd watch connected).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { etcdFailure, etcdFailureMessage } from '../storage/etcd-errors.js';

const ETCD_PROBE_TIMEOUT_MS = 2_000;
const WATCH_RECONNECT_GRACE_MS = 2_000;

/** Resolves when healthy; throws an Error saying why not. */
type Check = () => Promise<void>;

export async function healthRoutes(app: FastifyInstance, opts: { store: ObjectStore; cache: WatchCache }): Promise<void> {
  const ping: Check = async () => undefined;
  const etcd: Check = async () => {
    try {
      await opts.store.currentRevision({ timeoutMs: ETCD_PROBE_TIMEOUT_MS });
    } catch (err) {
      const failure = etcdFailure(err as Error);
      throw new Error(failure ? etcdFailureMessage(failure, err as Error) : (err as Error).message.split('\n')[0]);
    }
  };
  // The cache's etcd watch moves to another member when its member goes away, within
  // milliseconds; only a watch that stays down makes the cache (and consistent lists) stale.
  let disconnectedAt: number | undefined;
  opts.cache.on('connection', (connected) => (disconnectedAt = connected ? undefined : (disconnectedAt ?? Date.now())));
  const watchCache: Check = async () => {
    if (!opts.cache.synced) throw new Error('the watch cache is not synced with etcd');
    const downMs = disconnectedAt === undefined || opts.cache.connected ? 0 : Date.now() - disconnectedAt;
    if (downMs > WATCH_RECONNECT_GRACE_MS) throw new Error(`the watch cache has had no etcd watch for ${Math.round(downMs / 1000)} s (reconnecting)`);
  };
  const live = new Map<string, Check>([['ping', ping]]);
  const ready = new Map<string, Check>([
    ['ping', ping],
    ['etcd', etcd],
    ['watch-cache', watchCache],
  ]);
  for (const [endpoint, checks] of [
    ['healthz', live],
    ['livez', live],
    ['readyz', ready],
  ] as const) {
    const hidden = { schema: { hide: true } };
    app.get(`/${endpoint}`, hidden, (req, reply) => runChecks(endpoint, checks, req, reply));
    for (const [name, check] of checks) app.get(`/${endpoint}/${name}`, hidden, (req, reply) => runChecks(endpoint, new Map([[name, check]]), req, reply));
  }
}

async function runChecks(endpoint: string, checks: Map<string, Check>, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const query = req.query as Record<string, string | string[] | undefined>;
  const excluded = new Set([query.exclude ?? []].flat());
  const verbose = query.verbose !== undefined;
  const results = await Promise.all(
    [...checks].map(async ([name, check]) => {
      if (excluded.has(name)) return `[+]${name} excluded: ok`;
      try {
        await check();
        return `[+]${name} ok`;
      } catch (err) {
        return `[-]${name} failed: ${(err as Error).message}`;
      }
    }),
  );
  const failed = results.some((r) => r.startsWith('[-]'));
  void reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
  if (!failed && !verbose) return reply.send('ok');
  return reply.code(failed ? 503 : 200).send(`${results.join('\n')}\n${endpoint} check ${failed ? 'failed' : 'passed'}\n`);
}
