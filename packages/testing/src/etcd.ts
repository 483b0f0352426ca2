/** A real etcd member on free ports with a temporary data dir, for tests and benchmarks; optionally serving clients over TLS. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type Result, type ResultPromise } from 'execa';
import { freePort } from '@shoal/api';
import { waitFor } from './wait-for.js';

export interface EtcdMember {
  endpoint: string;
  dataDir: string;
  /** The running process's pid (the last one's after halt()). */
  pid: number;
  /** Who the member is, as a restore of its data must say it again (etcdctl snapshot restore --name, --initial-*). */
  name: string;
  peerUrl: string;
  clusterToken: string;
  /** Stops the process and removes the data dir. */
  stop(): Promise<void>;
  /** SIGTERM and wait; the data dir stays (wipe it, restore into it, then start()). */
  halt(): Promise<void>;
  /** Starts the member again on the same ports and data dir, once halted; resolves once it is healthy. */
  start(): Promise<void>;
}

/** TLS on a member's client URL (peers still talk plain HTTP to each other). */
export interface EtcdTls {
  /** etcd's own certificate and key (--cert-file, --key-file): must be valid for 127.0.0.1. */
  certFile: string;
  keyFile: string;
  /** The CA etcd trusts for client certificates (--trusted-ca-file); also the CA the health check verifies etcd with. */
  caFile: string;
  /** --client-cert-auth: refuse clients without a certificate `caFile` signed. Then `client` is needed for the health check. */
  clientCertAuth?: boolean;
  /** The client certificate the health check presents. */
  client?: { certFile: string; keyFile: string };
}

/** Where one member listens and keeps its data; the same on every (re)start. */
export interface EtcdMemberConfig {
  name: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** Serve clients over https (absent: http, as before). */
  tls?: EtcdTls;
  /** etcd's --max-txn-ops (absent: its default, 128). */
  maxTxnOps?: number;
}

export const etcdClientUrl = (m: EtcdMemberConfig) => `${m.tls ? 'https' : 'http'}://127.0.0.1:${m.clientPort}`;
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
      ...(member.tls
        ? [
            `--cert-file=${member.tls.certFile}`,
            `--key-file=${member.tls.keyFile}`,
            `--trusted-ca-file=${member.tls.caFile}`,
            ...(member.tls.clientCertAuth ? ['--client-cert-auth'] : []),
          ]
        : []),
      ...(member.maxTxnOps ? [`--max-txn-ops=${member.maxTxnOps}`] : []),
      `--initial-cluster-token=${clusterToken}`,
      '--log-level=error',
      '--logger=zap',
      // Tests and benchmarks measure our code, not the disk: etcd still writes its WAL, but without fsync.
      '--unsafe-no-fsync',
    ],
    // stderr is kept (at --log-level=error it holds little more than a fatal line) to say why a member died.
    { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' },
  );
}

/** etcd exited before it was healthy; its stderr says why (a port taken, a bad data dir...). */
export class EtcdExitedError extends Error {
  readonly stderr: string;
  constructor(endpoint: string, result: Result) {
    const stderr = String(result.stderr ?? '').trim();
    super(`etcd on ${endpoint} exited (${result.signal ?? `code ${result.exitCode}`}) before it was healthy${stderr ? `: ${stderr.slice(-1_000)}` : ''}`);
    this.stderr = stderr;
  }

  /** It could not listen: another process took a port between freePort() and etcd's bind. */
  get portTaken(): boolean {
    return this.stderr.includes('address already in use');
  }
}

/** GET /health over https, verifying etcd with the CA and presenting the client certificate if any. */
async function httpsHealthy(endpoint: string, tls: EtcdTls): Promise<boolean> {
  const [ca, cert, key] = await Promise.all([
    readFile(tls.caFile),
    tls.client ? readFile(tls.client.certFile) : undefined,
    tls.client ? readFile(tls.client.keyFile) : undefined,
  ]);
  return new Promise((resolve) => {
    const req = httpsGet(`${endpoint}/health`, { ca, cert, key, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

/** etcd's /health is true only with a leader and a quorum read that succeeded. */
async function etcdHealthy(endpoint: string, tls?: EtcdTls): Promise<boolean> {
  if (tls) return httpsHealthy(endpoint, tls);
  const r = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
  return r?.ok ?? false;
}

/**
 * Waits for the etcd that `proc` runs to be healthy, and fails at once with EtcdExitedError if
 * the process exits first, rather than polling a dead endpoint until the deadline.
 */
export async function waitForEtcdStart(proc: ResultPromise, endpoint: string, timeoutMs = 20_000, tls?: EtcdTls): Promise<void> {
  let exit: Result | undefined;
  void proc.then((r) => (exit = r));
  await waitFor(async () => exit !== undefined || (await etcdHealthy(endpoint, tls)), { timeoutMs, message: `etcd on ${endpoint} to be healthy` });
  if (exit) throw new EtcdExitedError(endpoint, exit);
}

type LaunchOptions = Partial<Pick<EtcdMemberConfig, 'name' | 'tls' | 'maxTxnOps'>>;

/** A single member; with `tls` its client URL is https:// (and with `tls.clientCertAuth` it wants client certificates). */
export async function startEtcd(opts: LaunchOptions = {}): Promise<EtcdMember> {
  const { member, healthy } = await launchEtcd(opts);
  await healthy;
  return member;
}

/**
 * startEtcd without the wait: the member is spawned and answered at once, with `healthy`, which
 * resolves once it is healthy, or rejects having killed it and removed its data. What is to run
 * on it (an apiserver, which waits for etcd by itself) can load meanwhile.
 */
export async function launchEtcd(opts: LaunchOptions = {}): Promise<{ member: EtcdMember; healthy: Promise<void> }> {
  if (opts.tls?.clientCertAuth && !opts.tls.client) throw new Error('startEtcd: tls.clientCertAuth needs tls.client, for the health check');
  const config: EtcdMemberConfig = {
    name: opts.name ?? 'test',
    dataDir: await mkdtemp(join(tmpdir(), 'shoal-etcd-')),
    clientPort: await freePort(),
    peerPort: await freePort(),
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.maxTxnOps ? { maxTxnOps: opts.maxTxnOps } : {}),
  };
  const endpoint = etcdClientUrl(config);
  const clusterToken = 'shoal-test';
  let proc = spawnEtcd(config, [config], clusterToken);
  let exited: Promise<unknown> = proc.then((r) => r);
  const healthy = waitForEtcdStart(proc, endpoint, 20_000, opts.tls).catch(async (err: unknown) => {
    proc.kill('SIGKILL');
    await exited;
    await rm(config.dataDir, { recursive: true, force: true });
    throw err;
  });
  const member: EtcdMember = {
    endpoint,
    dataDir: config.dataDir,
    pid: proc.pid!,
    name: config.name,
    peerUrl: etcdPeerUrl(config),
    clusterToken,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      await rm(config.dataDir, { recursive: true, force: true });
    },
    async halt() {
      proc.kill('SIGTERM');
      await exited;
    },
    async start() {
      if (proc.exitCode === null && proc.signalCode === null) throw new Error(`etcd member ${config.name} is still running`);
      proc = spawnEtcd(config, [config], clusterToken);
      exited = proc.then((r) => r);
      member.pid = proc.pid!;
      try {
        await waitForEtcdStart(proc, endpoint, 20_000, opts.tls);
      } catch (err) {
        proc.kill('SIGKILL');
        await exited;
        throw err;
      }
    },
  };
  return { member, healthy };
}
