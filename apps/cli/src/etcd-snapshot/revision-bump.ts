/**
 * Why a restored cluster must not start at the snapshot's revision.
 *
 * A resourceVersion is an etcd revision, and every client takes them to grow: informers drop
 * events older than what they hold, watches resume from the last one seen, the health controller
 * ignores a Lease older than one it saw. A snapshot taken at revision S is restored after the
 * lost cluster went on to some revision L > S; its clients hold versions up to L. Restored as it
 * is, etcd would hand out S+1, S+2, … again — the same numbers for other writes — and a client
 * would resume its watch from L in a history where L means something else, missing what came
 * before it, or ignore new versions as older than the ones it holds.
 *
 * So the restored history starts well above the old one, and everything below is compacted:
 * every watch from an old resourceVersion gets 410 Expired, its informer relists, and every new
 * version is newer than any it held (etcd 3.5's `etcdutl snapshot restore --bump-revision N
 * --mark-compacted`, which kube-apiserver's restore guide asks for). Debian's etcd is 3.4, whose
 * restore cannot do that, so it is done through etcd itself: the snapshot is restored into a
 * scratch member on loopback, the revision advanced by N writes of one marker key, compacted at
 * the end and defragmented, and that member's own snapshot is what the real restore uses.
 * Each write is one revision, so this takes about N / 5,000 seconds on a small machine.
 *
 * It is only as good as N: it must exceed the writes the lost cluster made after the snapshot
 * (its write rate × the snapshot's age). The result depends only on the snapshot and N, so the
 * members of a cluster, each restored on its own, get the same keyspace.
 */
import { join } from 'node:path';
import { freePort } from '@shoal/api';
import { Etcd3 } from 'etcd3';
import { execa, type ResultPromise } from 'execa';
import { missingTool, restoreSnapshot } from './etcd-tools.js';
import { writeSnapshotFile } from './write-snapshot.js';

/** The key whose writes advance the revision; it stays, saying where the history came from. */
export const RESTORE_MARKER_KEY = '/shoal/restored-from-snapshot';

/** Writes in flight at once: enough to keep etcd batching. */
const CONCURRENCY = 64;
const START_TIMEOUT_MS = 30_000;

export interface BumpOptions {
  snapshotFile: string;
  /** The snapshot's revision (etcdctl snapshot status). */
  snapshotRevision: number;
  /** Revisions to advance by. */
  bump: number;
  /** A directory of the caller's, empty, for the scratch member and the new snapshot. */
  workDir: string;
  onProgress?: (writes: number) => void;
}

export interface BumpedSnapshot {
  /** The new snapshot: the same keys at revision snapshotRevision + bump, history before it compacted. */
  file: string;
  revision: number;
}

export async function bumpedSnapshot(o: BumpOptions): Promise<BumpedSnapshot> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const name = 'shoal-restore-scratch';
  const dataDir = join(o.workDir, 'scratch');
  await restoreSnapshot(o.snapshotFile, dataDir, { name, initialCluster: `${name}=${peerUrl}`, initialClusterToken: name, initialAdvertisePeerUrls: peerUrl });
  const member = startScratchMember(name, dataDir, clientUrl, peerUrl);
  const etcd = new Etcd3({ hosts: clientUrl });
  try {
    await member.healthy();
    const revision = await advance(etcd, o);
    await etcd.kv.compact({ revision: String(revision), physical: true });
    await etcd.maintenance.defragment();
    const file = join(o.workDir, 'bumped.db');
    const call = (await etcd.maintenance.snapshot()) as unknown as AsyncIterable<{ blob: Buffer }>;
    async function* blobs(): AsyncGenerator<Buffer> {
      for await (const r of call) yield r.blob;
    }
    await writeSnapshotFile(file, blobs(), { source: `the snapshot of the scratch member at ${clientUrl}` });
    return { file, revision };
  } finally {
    etcd.close();
    await member.stop();
  }
}

/** `bump` writes of the marker key; answers the revision of the last. */
async function advance(etcd: Etcd3, o: BumpOptions): Promise<number> {
  const value = JSON.stringify({ snapshotRevision: o.snapshotRevision, revisionBump: o.bump });
  let started = 0;
  let done = 0;
  let revision = o.snapshotRevision;
  const worker = async () => {
    while (started < o.bump) {
      started++;
      const res = await etcd.put(RESTORE_MARKER_KEY).value(value).exec();
      revision = Math.max(revision, Number(res.header.revision));
      o.onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, o.bump) }, worker));
  return revision;
}

interface ScratchMember {
  healthy(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * etcd on loopback ports of its own, on a data dir that is thrown away (hence no fsync): nothing
 * but this process talks to it, and it never joins a real cluster (its own name and token).
 */
function startScratchMember(name: string, dataDir: string, clientUrl: string, peerUrl: string): ScratchMember {
  const proc: ResultPromise = execa(
    'etcd',
    [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      `--initial-cluster-token=${name}`,
      '--unsafe-no-fsync',
      '--logger=zap',
      '--log-level=error',
    ],
    { reject: false, all: true },
  );
  const exited = proc.then((r) => r);
  return {
    async healthy() {
      const deadline = Date.now() + START_TIMEOUT_MS;
      let gone: Awaited<typeof exited> | undefined;
      void exited.then((r) => (gone = r));
      for (;;) {
        if (gone) {
          if (gone.failed && gone.exitCode === undefined) missingTool('etcd', gone.cause ?? gone);
          throw new Error(`the scratch etcd member exited (${gone.exitCode ?? gone.signal}): ${String(gone.all ?? '').trim()}`);
        }
        const ok = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1_000) })
          .then((r) => r.ok)
          .catch(() => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`the scratch etcd member on ${clientUrl} was not healthy within ${START_TIMEOUT_MS / 1000} s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
