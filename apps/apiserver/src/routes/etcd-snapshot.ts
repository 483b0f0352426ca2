/**
 * `GET /admin/etcd/snapshot`: a consistent snapshot of etcd, streamed to an administrator
 * (`shoalctl admin snapshot save`). Only the apiserver talks to etcd, so this is how the
 * control plane's own state is backed up without handing out etcd credentials.
 *
 * It is a non-resource URL, authorized like any other (auth/plugin.ts): system:masters and
 * cluster-admin (`nonResourceURLs: ['*']`) may get it; a backup operator can be given just
 * `{nonResourceURLs: ['/admin/etcd/snapshot'], verbs: ['get']}` in a ClusterRole; everyone else
 * gets a 403 Status. The body is etcd's own snapshot format (storage/etcd-snapshot.ts), with its
 * expected length in a header, for progress; a stream that breaks off is cut off, never ended
 * cleanly, and the digest at its end lets the client tell a complete copy from a torn one.
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import type { Etcd3 } from 'etcd3';
import { requestUser } from '../auth/plugin.js';
import { openEtcdSnapshot } from '../storage/etcd-snapshot.js';

export const ETCD_SNAPSHOT_PATH = '/admin/etcd/snapshot';
/** The number of bytes the body will have: the database and etcd's sha256 after it. */
export const SNAPSHOT_SIZE_HEADER = 'x-shoal-snapshot-bytes';

export async function etcdSnapshotRoutes(app: FastifyInstance, opts: { etcd: Etcd3 }): Promise<void> {
  app.get(ETCD_SNAPSHOT_PATH, {
    // A HEAD would open a snapshot of the whole database only to throw it away.
    exposeHeadRoute: false,
    schema: {
      tags: ['admin'],
      operationId: 'getEtcdSnapshot',
      summary: "A consistent snapshot of etcd's keyspace, in etcd's snapshot format (database, then its sha256)",
    },
    config: { verb: 'get', longRunning: true },
    handler: async (req, reply) => {
      const snapshot = await openEtcdSnapshot(opts.etcd);
      const user = requestUser(req);
      const started = Date.now();
      req.log.info({ user: user?.name, bytes: snapshot.expectedBytes }, 'streaming an etcd snapshot');
      reply.hijack();
      const res = reply.raw;
      res.on('close', () => snapshot.body.destroy());
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'no-store',
        [SNAPSHOT_SIZE_HEADER]: String(snapshot.expectedBytes),
      });
      try {
        await pipeline(snapshot.body, res);
        req.log.info({ user: user?.name, bytes: snapshot.expectedBytes, ms: Date.now() - started }, 'etcd snapshot sent');
      } catch (err) {
        // Under way already: cutting the response off is the only way left to say it is incomplete.
        req.log.warn({ user: user?.name, err: (err as Error).message }, 'etcd snapshot stream broke off');
        res.destroy();
      }
    },
  });
}
