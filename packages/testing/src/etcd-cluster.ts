/**
 * A real multi-member etcd cluster on one machine, for fault tests: every member is its own
 * process with its own data dir, and can be killed (SIGKILL: no goodbye to its peers) and
 * started again from that data, as a crashed and rebooted host would be.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ResultPromise } from 'execa';
import { EtcdExitedError, etcdClientUrl, spawnEtcd, waitForEtcdStart, type EtcdMemberConfig } from './etcd.js';
import { freePort } from '@shoal/api';

export interface EtcdClusterMember {
  name: string;
  endpoint: string;
  dataDir: string;
  running: boolean;
  /** The process's pid while it runs (undefined once killed). */
  pid: number | undefined;
  /** SIGKILL and wait for the process to exit; the data dir stays. */
  kill(): Promise<void>;
  /** Starts the member again from its data dir; resolves once it is healthy (so only when a quorum is up). */
  start(): Promise<void>;
}

export interface EtcdCluster {
  members: EtcdClusterMember[];
  /** Every member's client URL, in order. */
  endpoints: string[];
  /** The endpoints joined with commas, as `--etcd-servers` takes them. */
  servers: string;
  /** The member that leads now, as the running members say (undefined: none does). */
  leader(): Promise<EtcdClusterMember | undefined>;
  /** Kills every member still running and removes all data. */
  stop(): Promise<void>;
}

export interface EtcdClusterOptions {
  size?: number;
  /** Where the members' data dirs are made (a fresh temporary dir in it); the system temp dir when absent. */
  parentDir?: string;
}

/** How many times a cluster is started on fresh ports when a member found one of its ports taken. */
const PORT_ATTEMPTS = 3;

export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await tryStartEtcdCluster(opts);
    } catch (err) {
      if (!(err instanceof EtcdExitedError && err.portTaken) || attempt === PORT_ATTEMPTS) throw err;
    }
  }
}

async function tryStartEtcdCluster(opts: EtcdClusterOptions): Promise<EtcdCluster> {
  const size = opts.size ?? 3;
  const base = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'shoal-etcd-cluster-'));
  const configs: EtcdMemberConfig[] = [];
  for (let i = 0; i < size; i++) configs.push({ name: `m${i}`, dataDir: join(base, `m${i}`), clientPort: await freePort(), peerPort: await freePort() });
  // A fresh token per cluster: members of two test clusters can never mistake each other for peers.
  const token = `shoal-test-${randomUUID()}`;
  const members = configs.map((config) => member(config, configs, token));
  const cluster: EtcdCluster = {
    members,
    endpoints: configs.map(etcdClientUrl),
    servers: configs.map(etcdClientUrl).join(','),
    async leader() {
      for (const m of members.filter((x) => x.running)) {
        const status = await memberStatus(m.endpoint).catch(() => undefined);
        if (status && status.leader !== '0' && status.leader === status.memberId) return m;
      }
      return undefined;
    },
    async stop() {
      await Promise.all(members.filter((m) => m.running).map((m) => m.kill()));
      await rm(base, { recursive: true, force: true });
    },
  };
  try {
    // All at once: a member waits for a quorum of its peers before it reports healthy.
    await Promise.all(members.map((m) => m.start()));
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

function member(config: EtcdMemberConfig, all: EtcdMemberConfig[], token: string): EtcdClusterMember {
  let proc: ResultPromise | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  const m: EtcdClusterMember = {
    name: config.name,
    endpoint: etcdClientUrl(config),
    dataDir: config.dataDir,
    running: false,
    pid: undefined,
    async kill() {
      proc?.kill('SIGKILL');
      await exited;
      proc = undefined;
      m.running = false;
      m.pid = undefined;
    },
    async start() {
      if (m.running) throw new Error(`etcd member ${config.name} is already running`);
      proc = spawnEtcd(config, all, token);
      exited = proc.then((r) => r);
      m.running = true;
      m.pid = proc.pid;
      await waitForEtcdStart(proc, m.endpoint, 30_000);
    },
  };
  return m;
}

/** A member's own view (etcd's JSON gateway for Maintenance.Status): its id and the leader it follows ('0': none). */
async function memberStatus(endpoint: string): Promise<{ memberId: string; leader: string }> {
  const res = await fetch(`${endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`etcd ${endpoint} status: HTTP ${res.status}`);
  const body = (await res.json()) as { header?: { member_id?: string }; leader?: string };
  return { memberId: String(body.header?.member_id), leader: String(body.leader ?? '0') };
}
