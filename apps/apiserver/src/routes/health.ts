/** Liveness and readiness: ready means etcd answers and the watch cache is in sync. */
import type { FastifyInstance } from 'fastify';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';

const ETCD_PROBE_TIMEOUT_MS = 2_000;

export async function healthRoutes(app: FastifyInstance, opts: { store: ObjectStore; cache: WatchCache }): Promise<void> {
  const hidden = { schema: { hide: true } };
  app.get('/healthz', hidden, async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/livez', hidden, async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', hidden, async (_req, reply) => {
    const problems: string[] = [];
    if (!opts.cache.synced) problems.push('watch cache not synced');
    try {
      await Promise.race([
        opts.store.currentRevision(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ETCD_PROBE_TIMEOUT_MS).unref()),
      ]);
    } catch (err) {
      problems.push(`etcd unreachable: ${(err as Error).message.split('\n')[0]}`);
    }
    if (problems.length) return reply.code(503).type('text/plain').send(`not ready: ${problems.join('; ')}`);
    return reply.type('text/plain').send('ok');
  });
}
