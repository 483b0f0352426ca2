/**
 * A local cluster from real processes, the one way tests and benchmarks start one: an etcd
 * member, one or more apiservers on it, and as asked a controller-manager (all controllers, or
 * some) and node agents, each agent with its own data dir. VMs run as real QEMU microVMs unless
 * an agent is simulated (`--runtime simulated`). `client` is a typed client for the cluster.
 *
 *   const cluster = await startCluster();                                       // etcd + apiserver
 *   const cluster = await startCluster({ controllerManager: { controllers: ['scheduler'] }, agents: ['node-a'] });
 *   const cluster = await startCluster({ agentTls: true, agents: ['node-a'] });  // agents serve HTTPS to the apiserver only
 *   ...
 *   await cluster.stop();                                                       // everything, VMs included
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShoalClient, type ClientOptions } from '@shoal/client';
import { launchEtcd, type EtcdMember } from './etcd.js';
import {
  makeAgentTlsCertificates,
  makeNodeMigrationCertificate,
  makeServerCertificates,
  type AgentTlsCertificates,
  type TestCertificates,
} from './certificates.js';
import { freePort } from '@shoal/api';
import { startApiserver, startProcess, type ApiserverProcess, type ShoalProcess } from './process.js';

export interface AgentProcess extends ShoalProcess {
  nodeName: string;
  dataDir: string;
  /** Where the agent serves logs, health and /metrics, from its ready line. */
  address: string;
}

export interface AgentOptions {
  /** More flags (`--runtime simulated`, `--vcpus 4`, …). */
  args?: string[];
  /** Its data dir; a fresh temporary one when absent (pass an old one to restart an agent in place). */
  dataDir?: string;
  timeoutMs?: number;
  /** Run it under this command (`ip netns exec NS`: an agent on a host of its own). */
  prefix?: string[];
  /** Flags for node itself (StartProcessOptions.nodeOptions). */
  nodeOptions?: string[];
}

/** A node agent for `server` (one URL, or several comma-separated). */
export async function startAgent(server: string, nodeName: string, opts: AgentOptions = {}): Promise<AgentProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `shoal-agent-${nodeName}-`)));
  const p = await startProcess('shoal-agent', ['--server', server, '--node-name', nodeName, '--data-dir', dataDir, '--port', '0', ...(opts.args ?? [])], {
    ready: /shoal-agent .* ready on/,
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    ...(opts.nodeOptions ? { nodeOptions: opts.nodeOptions } : {}),
  });
  const address = /ready on (\S+)/.exec(p.readyLine)![1]!;
  return { ...p, nodeName, dataDir, address };
}

/** Kills any VM process still running from an agent's data dir, so no test leaks a QEMU. */
export async function killLeftoverVms(dataDir: string): Promise<void> {
  for (const uid of await readdir(join(dataDir, 'vms')).catch(() => [] as string[])) {
    for (const file of ['supervisor.pid', 'qemu.pid']) {
      const pid = Number((await readFile(join(dataDir, 'vms', uid, file), 'utf8').catch(() => '')).trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

export interface ControllerManagerOptions {
  /** `--controllers`: the controllers to run; all of them when absent. */
  controllers?: string[];
  /** More flags (`--leader-elect`, `--node-monitor-grace-period 4`, …). */
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface ControllerManagerProcess extends ShoalProcess {
  readyLine: string;
  /** Its /metrics, from its ready line. */
  metricsUrl: string;
}

/** A shoal-controller-manager for `server` (one URL, or several comma-separated), its health port any free one. */
export async function startControllerManager(server: string, opts: ControllerManagerOptions = {}): Promise<ControllerManagerProcess> {
  const controllers = opts.controllers ? ['--controllers', opts.controllers.join(',')] : [];
  const p = await startProcess('shoal-controller-manager', ['--server', server, '--port', '0', ...controllers, ...(opts.args ?? [])], {
    ready: /ready on/,
    env: opts.env,
    timeoutMs: opts.timeoutMs,
  });
  return { ...p, metricsUrl: `${/ready on (\S+)/.exec(p.readyLine)![1]}/metrics` };
}

export interface ClusterOptions {
  /** How many apiservers serve the one etcd (1). Each gets its own port; components and `client` are given them all (`--server A,B`). */
  apiservers?: number;
  /** More flags for every apiserver (`--tls-cert-file …`, `--watch-cache-size 5`, …). */
  apiserverArgs?: string[];
  /** Start a controller-manager: `true` for all controllers with default flags, or these. */
  controllerManager?: boolean | ControllerManagerOptions;
  /** Start one agent per node name (real QEMU unless `agentArgs` say `--runtime simulated`). */
  agents?: string[];
  /** Flags every agent of the cluster gets, `cluster.startAgent`'s too. */
  agentArgs?: string[];
  /** How `client` connects, besides the server list (a CA, a token). */
  client?: Omit<ClientOptions, 'server'>;
  /**
   * Node agents serve HTTPS to the apiserver's client certificate only, as under `shoal up`:
   * `true` makes a CA for it, or give the one the apiserver's TLS uses. The certificates and
   * flags are `cluster.agentTls`; every apiserver and agent the cluster starts gets the flags
   * (an extra `startApiserver({ args })` only the args it is given). Plain HTTP when absent.
   */
  agentTls?: boolean | TestCertificates;
  /** Every agent gets a migration certificate of its own (CN=system:node:<name>) from one CA, so nodes can live-migrate VMs between them. */
  migrationTls?: boolean;
}

export interface TestCluster {
  etcd: EtcdMember;
  /** Every apiserver of `servers`, in order; restartApiserver(i) replaces the i-th. */
  apiservers: ApiserverProcess[];
  /** The first apiserver. */
  readonly apiserver: ApiserverProcess;
  /** The first apiserver's URL. */
  url: string;
  /** Every apiserver's URL, comma-separated: what `--server` takes. */
  servers: string;
  /** A client for `servers`, closed by stop(). */
  client: ShoalClient;
  /** Present when started with `controllerManager`. */
  controllerManager: ControllerManagerProcess | undefined;
  /** The agents started so far, by node name. */
  agents: Map<string, AgentProcess>;
  /** Present when started with `agentTls`. */
  agentTls: AgentTlsCertificates | undefined;
  /**
   * An agent for node `nodeName`, with the cluster's `agentArgs` and `--stop-vms-on-exit` (no
   * QEMU outlives a test) unless `stopVmsOnExit` is false; stop() kills any VM left either way.
   */
  startAgent(nodeName: string, opts?: AgentOptions & { stopVmsOnExit?: boolean }): Promise<AgentProcess>;
  /** Another controller-manager (leader election, failover); stopped with the cluster. */
  startControllerManager(opts?: ControllerManagerOptions): Promise<ControllerManagerProcess>;
  /** SIGKILLs the i-th apiserver (0) if it still runs, then starts a fresh one on the same port with the same flags. */
  restartApiserver(i?: number): Promise<ApiserverProcess>;
  /** One more apiserver on the same etcd, on a port of its own and not in `servers`, with `args` (the cluster's `apiserverArgs` when absent); stopped with the cluster. */
  startApiserver(opts?: { args?: string[] }): Promise<ApiserverProcess>;
  /** Stops everything the cluster started, kills any VM its agents left and removes their data dirs. */
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  // Before etcd: a failure here leaves nothing running.
  const agentTls = opts.agentTls ? await makeAgentTlsCertificates(opts.agentTls === true ? undefined : opts.agentTls) : undefined;
  const migrationCa = opts.migrationTls ? await makeServerCertificates() : undefined;
  // Not waited for here: the apiservers below take seconds to load, and wait for etcd by themselves.
  const { member: etcd, healthy: etcdHealthy } = await launchEtcd();
  const apiserverArgs = [...(opts.apiserverArgs ?? []), ...(agentTls?.apiserverArgs ?? [])];
  const agentArgs = [...(agentTls?.agentArgs ?? []), ...(opts.agentArgs ?? [])];
  const apiservers: ApiserverProcess[] = [];
  const extraApiservers: ApiserverProcess[] = [];
  /** The ports of the extra apiservers, started or starting. */
  const extraPorts = new Set<number>();
  const managers: ControllerManagerProcess[] = [];
  const agents = new Map<string, AgentProcess>();
  const allAgents: AgentProcess[] = [];
  let client: ShoalClient | undefined;
  const stop = async () => {
    await client?.close();
    await Promise.all(allAgents.map((a) => a.stop()));
    await Promise.all(managers.map((m) => m.stop()));
    await Promise.all([...apiservers, ...extraApiservers].map((a) => a.stop()));
    await etcd.stop();
    for (const dataDir of new Set(allAgents.map((a) => a.dataDir))) {
      await killLeftoverVms(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
    // A CA made here is the cluster's; one the caller gave is theirs.
    if (opts.agentTls === true && agentTls) await rm(agentTls.certs.dir, { recursive: true, force: true });
    if (migrationCa) await rm(migrationCa.dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    // etcd may not be listening yet: never hand out its ports.
    const taken = [etcd.endpoint, etcd.peerUrl].map((u) => Number(new URL(u).port));
    while (ports.length < (opts.apiservers ?? 1)) {
      const port = await freePort();
      if (!ports.includes(port) && !taken.includes(port)) ports.push(port);
    }
    // Started together, while etcd starts; any that did start is in `apiservers`, so a failure stops it too.
    const [etcdUp, ...started] = await Promise.allSettled([
      etcdHealthy,
      ...ports.map((port) => startApiserver({ etcd: etcd.endpoint, port, args: apiserverArgs })),
    ]);
    for (const r of started) if (r.status === 'fulfilled') apiservers.push(r.value as ApiserverProcess);
    if (etcdUp.status === 'rejected') throw etcdUp.reason;
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const servers = apiservers.map((a) => a.url).join(',');
    client = new ShoalClient({ ...opts.client, server: servers });
    const cluster: TestCluster = {
      etcd,
      apiservers,
      get apiserver() {
        return apiservers[0]!;
      },
      url: apiservers[0]!.url,
      servers,
      client,
      controllerManager: undefined,
      agents,
      agentTls,
      async startAgent(nodeName, { stopVmsOnExit = true, ...o } = {}) {
        const agent = await startAgent(servers, nodeName, {
          ...o,
          args: [
            ...(stopVmsOnExit ? ['--stop-vms-on-exit'] : []),
            ...agentArgs,
            ...(migrationCa ? await makeNodeMigrationCertificate(migrationCa, nodeName) : []),
            ...(o.args ?? []),
          ],
        });
        agents.set(nodeName, agent);
        allAgents.push(agent);
        return agent;
      },
      async startControllerManager(o = {}) {
        const manager = await startControllerManager(servers, o);
        managers.push(manager);
        return manager;
      },
      async restartApiserver(i = 0) {
        const old = apiservers[i];
        if (!old) throw new Error(`restartApiserver(${i}): the cluster has ${apiservers.length} apiserver(s)`);
        await old.kill();
        apiservers[i] = await startApiserver({ etcd: etcd.endpoint, port: old.port, args: apiserverArgs });
        return apiservers[i]!;
      },
      async startApiserver(o = {}) {
        // A port of the cluster's own apiservers is free while one is down, and one given to an
        // extra apiserver still starting (several may start side by side) too: never hand them out.
        let port = await freePort();
        while (apiservers.some((a) => a.port === port) || extraPorts.has(port)) port = await freePort();
        extraPorts.add(port);
        const extra = await startApiserver({ etcd: etcd.endpoint, port, args: o.args ?? apiserverArgs });
        extraApiservers.push(extra);
        return extra;
      },
      stop,
    };
    // They need only the apiservers, not each other: started side by side. Any that did start is
    // stopped by stop() on a failure; the agents map keeps the order they were asked in.
    const startedAll = await Promise.allSettled([
      opts.controllerManager
        ? cluster.startControllerManager(opts.controllerManager === true ? {} : opts.controllerManager).then((m) => (cluster.controllerManager = m))
        : undefined,
      ...(opts.agents ?? []).map((name) => cluster.startAgent(name)),
    ]);
    for (const r of startedAll) if (r.status === 'rejected') throw r.reason;
    for (const name of opts.agents ?? []) {
      const agent = agents.get(name)!;
      agents.delete(name);
      agents.set(name, agent);
    }
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
