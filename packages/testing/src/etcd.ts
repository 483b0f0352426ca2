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

export async function startEtcd(opts: { name?: string } = {}): Promise<EtcdMember> {
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const name = opts.name ?? 'test';
  const proc: ResultPromise = execa(
    'etcd',
    [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=${name}=http://127.0.0.1:${peerPort}`,
      '--log-level=error',
      '--logger=zap',
      // Tests and benchmarks measure our code, not the disk: etcd still writes its WAL, but without fsync.
      '--unsafe-no-fsync',
    ],
    { reject: false, stdio: 'ignore' },
  );
  const exited = proc.then((r) => r);
  await waitFor(
    async () => {
      const r = await fetch(`${endpoint}/health`).catch(() => undefined);
      return r?.ok;
    },
    { timeoutMs: 20_000, message: `etcd on ${endpoint} to be healthy` },
  );
  return {
    endpoint,
    dataDir,
    pid: proc.pid!,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
