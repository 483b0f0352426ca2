/** A real etcd member on free ports with a temporary data dir, for tests and benchmarks. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface EtcdMember {
  endpoint: string;
  dataDir: string;
  pid: number;
  stop(): Promise<void>;
}

/** Where one member listens and keeps its data; the same on every (re)start. */
export interface EtcdMemberConfig {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
}

export const etcdClientUrl = (m: EtcdMemberConfig) => `http://127.0.0.1:${m.clientPort}`;
export const etcdPeerUrl = (m: EtcdMemberConfig) => `http://127.0.0.1:${m.peerPort}`;

/**
 * Runs one etcd process of the cluster `all` (a single member: just itself). On a restart with
 * an existing data dir etcd ignores the --initial-cluster flags and rejoins from its WAL.
 */
export function spawnEtcd(member: EtcdMemberConfig, all: EtcdMemberConfig[], clusterToken: string): ResultPromise {
  return execa(
    'etcd',
    [
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=${etcdClientUrl(member)}`,
      `--advertise-client-urls=${etcdClientUrl(member)}`,
      `--listen-peer-urls=${etcdPeerUrl(member)}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl(member)}`,
      `--initial-cluster=${all.map((m) => `${m.name}=${etcdPeerUrl(m)}`).join(',')}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${clusterToken}`,
      '--log-level=error',
      '--logger=zap',
      // Tests and benchmarks measure our code, not the disk: etcd still writes its WAL, but without fsync.
      '--unsafe-no-fsync',
    ],
    { reject: false, stdio: 'ignore' },
  );
}

/** etcd's /health is true only with a leader and a quorum read that succeeded. */
export async function waitForEtcdHealth(endpoint: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      const r = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      return r?.ok;
    },
    { timeoutMs, message: `etcd on ${endpoint} to be healthy` },
  );
}

export async function startEtcd(opts: { name?: string } = {}): Promise<EtcdMember> {
  const config: EtcdMemberConfig = {
    name: opts.name ?? 'test',
    dataDir: await mkdtemp(join(tmpdir(), 'shoal-etcd-')),
    clientPort: await freePort(),
    peerPort: await freePort(),
  };
  const endpoint = etcdClientUrl(config);
  const proc = spawnEtcd(config, [config], 'shoal-test');
  const exited = proc.then((r) => r);
  await waitForEtcdHealth(endpoint);
  return {
    endpoint,
    dataDir: config.dataDir,
    pid: proc.pid!,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      await rm(config.dataDir, { recursive: true, force: true });
    },
  };
}
