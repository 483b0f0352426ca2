/**
 * The etcd programs a restore runs: `etcdctl` (Debian's etcd-client 3.4) to read and restore
 * snapshot files, and `etcd` (etcd-server) for the scratch member of revision-bump.ts. Both are
 * run as they are installed; a missing one is said with the package that brings it.
 */
import { execa } from 'execa';

export class MissingToolError extends Error {
  constructor(tool: string, debianPackage: string) {
    super(`${tool} is not installed: it comes with Debian's ${debianPackage} package (apt-get install ${debianPackage}; deploy/install-deps.sh installs it)`);
    this.name = 'MissingToolError';
  }
}

const PACKAGE_OF: Record<string, string> = { etcdctl: 'etcd-client', etcd: 'etcd-server' };

/** Throws MissingToolError when `tool` cannot be started, or the error of any other failure to start it. */
export function missingTool(tool: 'etcd' | 'etcdctl', err: unknown): never {
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT') throw new MissingToolError(tool, PACKAGE_OF[tool]!);
  throw err;
}

/** Runs etcdctl (API v3) to completion; its stdout, or an error with what it said. */
export async function etcdctl(args: string[]): Promise<string> {
  const r = await execa('etcdctl', args, { env: { ETCDCTL_API: '3' }, reject: false });
  if (r.failed && r.exitCode === undefined) missingTool('etcdctl', r.cause ?? r);
  if (r.exitCode !== 0) throw new Error(`etcdctl ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

export interface SnapshotStatus {
  /** The revision of the keyspace the snapshot holds. */
  revision: number;
  /** Keys in etcd's key bucket: one per stored revision of a key. */
  totalKey: number;
  /** The database's size in bytes. */
  totalSize: number;
}

/** `etcdctl snapshot status`: what is in a snapshot file (it reads the database itself). */
export async function snapshotStatus(file: string): Promise<SnapshotStatus> {
  const out = JSON.parse(await etcdctl(['snapshot', 'status', file, '--write-out', 'json'])) as Partial<SnapshotStatus>;
  return { revision: Number(out.revision), totalKey: Number(out.totalKey), totalSize: Number(out.totalSize) };
}

/** Who the restored member is, as etcd's restore and start-up flags say it. */
export interface MemberIdentity {
  name: string;
  /** `name=peerURL,...`: every member of the cluster being restored. */
  initialCluster: string;
  initialClusterToken: string;
  /** This member's peer URLs, comma-separated. */
  initialAdvertisePeerUrls: string;
}

/** `etcdctl snapshot restore`: a new member data dir at `dataDir` (which must not exist) holding the snapshot's keyspace. */
export async function restoreSnapshot(file: string, dataDir: string, member: MemberIdentity): Promise<void> {
  await etcdctl([
    'snapshot',
    'restore',
    file,
    `--data-dir=${dataDir}`,
    `--name=${member.name}`,
    `--initial-cluster=${member.initialCluster}`,
    `--initial-cluster-token=${member.initialClusterToken}`,
    `--initial-advertise-peer-urls=${member.initialAdvertisePeerUrls}`,
  ]);
}
