/**
 * The soak's cluster, all real processes: three etcd members (a quorum survives one down), two
 * apiservers on all three (listening on the bridge address), two controller-managers with
 * --leader-elect (one leads each controller, the other stands by), and one agent per host, each
 * started inside its host's network namespace (`ip netns exec`) with the QEMU runtime. Every
 * process is a ManagedProcess, so the faults can kill, restart, freeze and thaw any of them.
 *
 * Ports are fixed for the whole run: an apiserver restarts on its own port (clients and agents
 * keep their --server list), an agent on 10250 of its own address. Agents serve HTTPS to the
 * apiservers' client certificate only, and each has its node's migration certificate (received
 * on its host's address), as under `shoal up`.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Condition, Node } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import {
  freePort,
  killLeftoverVms,
  makeAgentTlsCertificates,
  makeNodeMigrationCertificate,
  startApiserver,
  startControllerManager,
  startEtcdCluster,
  startProcess,
  waitFor,
  type EtcdCluster,
} from '@shoal/testing';
import { ManagedProcess, type Incarnation } from './managed-process.js';
import type { Host, Topology } from './topology.js';
import {
  AGENT_FENCE_SECONDS,
  AGENT_LEASE_SECONDS,
  AGENT_STOP_GRACE_SECONDS,
  AGENT_BOOT_TIMEOUT_SECONDS,
  LEADER_LEASE_SECONDS,
  LEADER_RENEW_DEADLINE_SECONDS,
  LEADER_RETRY_SECONDS,
} from './timing.js';

export const AGENT_PORT = 10250;

export interface SoakCluster {
  etcd: EtcdCluster;
  /** Every process: etcd members, apiservers, controller-managers, agents, in that order. */
  processes: ManagedProcess[];
  apiserverPorts: number[];
  /** The apiservers' URLs, comma-separated: what every --server gets. */
  servers: string;
  client: ShoalClient;
  /** Each host's agent data dir (VM run dirs under vms/). */
  dataDirs: Map<string, string>;
  process(name: string): ManagedProcess;
  /** The agent process of a host. */
  agentOf(host: Host): ManagedProcess;
  /** Stops every process (VMs are killed from the agents' data dirs), and etcd with its data. */
  stop(): Promise<void>;
}

export async function startSoakCluster(runDir: string, topology: Topology, clock: () => number): Promise<SoakCluster> {
  const processes: ManagedProcess[] = [];
  const dataDirs = new Map<string, string>();
  let etcd: EtcdCluster | undefined;
  let client: ShoalClient | undefined;
  const agentTls = await makeAgentTlsCertificates(
    undefined,
    topology.hosts.map((h) => h.address),
  );
  const stop = async () => {
    await client?.close();
    // Agents first, so nothing restarts VMs while the rest goes; then the controllers, the apiservers.
    for (const role of ['agent', 'controller-manager', 'apiserver'] as const)
      await Promise.all(processes.filter((p) => p.role === role).map((p) => p.stop().catch(() => undefined)));
    for (const dir of dataDirs.values()) await killLeftoverVms(dir);
    await etcd?.stop();
    await rm(agentTls.certs.dir, { recursive: true, force: true });
  };
  try {
    etcd = await startEtcdCluster({ size: 3, parentDir: runDir });
    for (const member of etcd.members) {
      const m = member;
      processes.push(
        new ManagedProcess(
          `etcd-${m.name}`,
          'etcd',
          async () => {
            if (!m.running) await m.start();
            // etcd's output is not kept (the helper discards it); its exit is seen from /proc.
            return { pid: m.pid!, exited: new Promise(() => {}), output: () => '', kill: () => m.kill(), stop: () => m.kill() };
          },
          clock,
        ),
      );
    }
    // The members are running already (a cluster starts all at once); this only records them.
    await Promise.all(processes.map((p) => p.start()));

    const ports: number[] = [];
    while (ports.length < 2) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const servers = ports.map((port) => `http://${topology.bridgeAddress}:${port}`).join(',');
    const apiservers = ports.map(
      (port, i) =>
        new ManagedProcess(
          `apiserver-${i}`,
          'apiserver',
          () => startApiserver({ etcd: etcd!.servers, port, args: ['--bind', topology.bridgeAddress, ...agentTls.apiserverArgs] }) as Promise<Incarnation>,
          clock,
        ),
    );
    processes.push(...apiservers);
    await Promise.all(apiservers.map((p) => p.start()));
    client = new ShoalClient({ server: servers });

    const managers = [0, 1].map((i) => {
      const p: ManagedProcess = new ManagedProcess(
        `controller-manager-${i}`,
        'controller-manager',
        () =>
          startControllerManager(servers, {
            args: [
              '--leader-elect',
              // Readable in the Leases and logs: which manager, which incarnation.
              '--leader-elect-identity',
              `cm-${i}.${p.incarnation + 1}`,
              '--leader-elect-lease-duration',
              String(LEADER_LEASE_SECONDS),
              '--leader-elect-renew-deadline',
              String(LEADER_RENEW_DEADLINE_SECONDS),
              '--leader-elect-retry-period',
              String(LEADER_RETRY_SECONDS),
              '--log-level',
              'info',
            ],
          }),
        clock,
      );
      return p;
    });
    processes.push(...managers);
    await Promise.all(managers.map((p) => p.start()));

    for (const host of topology.hosts) {
      const dataDir = join(runDir, 'agents', `n${host.index}`);
      await mkdir(dataDir, { recursive: true });
      dataDirs.set(host.nodeName, dataDir);
      const args = [
        '--server',
        servers,
        '--node-name',
        host.nodeName,
        '--data-dir',
        dataDir,
        '--runtime',
        'qemu',
        '--bind',
        host.address,
        '--port',
        String(AGENT_PORT),
        '--vcpus',
        '16',
        '--memory-mib',
        '4096',
        '--lease-duration',
        String(AGENT_LEASE_SECONDS),
        '--fence-timeout',
        String(AGENT_FENCE_SECONDS),
        '--stop-grace',
        String(AGENT_STOP_GRACE_SECONDS),
        '--boot-timeout',
        String(AGENT_BOOT_TIMEOUT_SECONDS),
        '--log-level',
        'info',
        ...agentTls.agentArgs,
        ...(await makeNodeMigrationCertificate(agentTls.certs, host.nodeName, [host.address])),
      ];
      processes.push(
        new ManagedProcess(
          `agent-${host.nodeName}`,
          'agent',
          () => startProcess('shoal-agent', args, { ready: /shoal-agent .* ready on/, prefix: topology.inHost(host), timeoutMs: 60_000 }),
          clock,
        ),
      );
    }
    await Promise.all(processes.filter((p) => p.role === 'agent').map((p) => p.start()));
    const c = client;
    await waitFor(
      async () => {
        const nodes = (await c.list<Node>('node')).items;
        return topology.hosts.every((h) => nodes.find((n) => n.metadata.name === h.nodeName)?.status?.conditions?.some(readyTrue));
      },
      { timeoutMs: 60_000, message: `all ${topology.hosts.length} nodes Ready` },
    );
    const cluster: SoakCluster = {
      etcd,
      processes,
      apiserverPorts: ports,
      servers,
      client,
      dataDirs,
      process(name) {
        const p = processes.find((x) => x.name === name);
        if (!p) throw new Error(`no process ${name} in the soak cluster`);
        return p;
      },
      agentOf(host) {
        return cluster.process(`agent-${host.nodeName}`);
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

const readyTrue = (c: Condition) => c.type === 'Ready' && c.status === 'True';
