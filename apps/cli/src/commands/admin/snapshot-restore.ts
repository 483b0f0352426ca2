/**
 * `admin snapshot restore FILE --data-dir DIR`: a new etcd data dir holding the snapshot's
 * keyspace, made offline with Debian's etcd 3.4 tools, then the flags to start etcd on it.
 *
 *   check FILE        its sha256 (etcd's, at its end) and `etcdctl snapshot status`
 *   check DIR         absent or empty: a restore never writes over etcd data
 *   bump              the history restarts --bump-revision revisions higher, older ones
 *                     compacted (etcd-snapshot/revision-bump.ts says why), in a scratch member
 *   restore           `etcdctl snapshot restore` into a directory beside DIR, then its member/
 *                     directory renamed into DIR: DIR never holds half a restore
 *
 * Each member of a cluster is restored from the same FILE with the same --initial-cluster,
 * --initial-cluster-token and --bump-revision, and its own --name and peer URLs.
 */
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../../cli-errors.js';
import type { GlobalArgs } from '../../global-options.js';
import { restoreSnapshot, snapshotStatus, type MemberIdentity } from '../../etcd-snapshot/etcd-tools.js';
import { bumpedSnapshot } from '../../etcd-snapshot/revision-bump.js';
import { verifySnapshotFile } from '../../etcd-snapshot/snapshot-digest.js';
import { syncDirectory } from '../../etcd-snapshot/write-snapshot.js';
import { formatBytes, formatDuration } from '../../output/progress.js';
import { ProgressLine } from '../../output/progress-line.js';

export interface SnapshotRestoreArgs extends GlobalArgs {
  file: string;
  dataDir: string;
  name: string;
  initialAdvertisePeerUrls: string;
  initialCluster?: string;
  initialClusterToken: string;
  advertiseClientUrls: string;
  bumpRevision: number;
}

export async function snapshotRestore(args: SnapshotRestoreArgs): Promise<void> {
  if (!Number.isSafeInteger(args.bumpRevision) || args.bumpRevision < 0)
    throw new UsageError(`--bump-revision must be a whole number of revisions, 0 or more; got ${args.bumpRevision}`);
  const member: MemberIdentity = {
    name: args.name,
    initialCluster: args.initialCluster ?? `${args.name}=${args.initialAdvertisePeerUrls}`,
    initialClusterToken: args.initialClusterToken,
    initialAdvertisePeerUrls: args.initialAdvertisePeerUrls,
  };
  if (!member.initialCluster.split(',').some((m) => m.startsWith(`${member.name}=`)))
    throw new UsageError(`--initial-cluster "${member.initialCluster}" has no member named "${member.name}" (--name)`);
  const dataDir = resolve(args.dataDir);
  await refuseNonEmpty(dataDir);

  const started = Date.now();
  const file = resolve(args.file);
  let bytes: number;
  try {
    ({ bytes } = await verifySnapshotFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code) throw new Error(`cannot read ${args.file}: ${code}`);
    throw err;
  }
  const status = await snapshotStatus(file);
  process.stderr.write(`snapshot ${args.file}: ${formatBytes(bytes)}, revision ${status.revision}, ${status.totalKey} keys, sha256 verified\n`);

  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  // Beside DIR, so the last step is a rename within one filesystem.
  const work = await mkdtemp(join(parent, `.${basename(dataDir)}.restore-`));
  let revision = status.revision;
  try {
    let source = file;
    if (args.bumpRevision > 0) {
      const progress = new ProgressLine(process.stderr);
      const text = (writes: number) => `advancing the revision: ${writes} of ${args.bumpRevision} writes`;
      const bumped = await bumpedSnapshot({
        snapshotFile: file,
        snapshotRevision: status.revision,
        bump: args.bumpRevision,
        workDir: work,
        onProgress: (writes) => progress.update(text(writes)),
      });
      progress.done(`${text(args.bumpRevision)}: revision ${bumped.revision}, history before it compacted`);
      source = bumped.file;
      revision = bumped.revision;
    }
    const restored = join(work, 'data');
    await restoreSnapshot(source, restored, member);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // etcdctl makes only member/ in a data dir; moving it in keeps DIR itself (its owner, its mode).
    await rename(join(restored, 'member'), join(dataDir, 'member'));
    await syncDirectory(dataDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const peers = member.initialAdvertisePeerUrls;
  const clients = args.advertiseClientUrls;
  const history =
    args.bumpRevision > 0
      ? `Its history continues at revision ${revision}, ${args.bumpRevision} above the snapshot's; every older revision is compacted, so whatever watched the old cluster relists (410 Expired) instead of resuming.`
      : `Its history continues at the snapshot's revision ${revision} (--bump-revision 0): restart every controller-manager and agent before they see new writes, or they may resume from versions of the lost cluster.`;
  process.stdout.write(
    [
      `Restored ${args.file} into ${dataDir} as etcd member "${member.name}" in ${formatDuration(Date.now() - started)}.`,
      history,
      'Start etcd on it with:',
      `  etcd --name ${member.name} --data-dir ${dataDir} \\`,
      `    --listen-peer-urls ${peers} --initial-advertise-peer-urls ${peers} \\`,
      `    --listen-client-urls ${clients} --advertise-client-urls ${clients} \\`,
      `    --initial-cluster ${member.initialCluster} --initial-cluster-token ${member.initialClusterToken}`,
      `then the apiservers with --etcd-servers ${clients}. (The --initial-* flags are what the data dir was made with; etcd reads them only to bootstrap.)`,
      '',
    ].join('\n'),
  );
}

async function refuseNonEmpty(dataDir: string): Promise<void> {
  const found = await stat(dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!found) return;
  if (!found.isDirectory()) throw new Error(`--data-dir ${dataDir} exists and is not a directory`);
  const entries = await readdir(dataDir);
  if (entries.length) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? `, … (${entries.length} entries)` : '');
    throw new Error(`refusing to restore into ${dataDir}: it is not empty (${shown}); a restore never writes over etcd data: give a new or empty directory`);
  }
}
