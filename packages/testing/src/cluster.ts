/**
 * A whole local cluster from real processes: etcd, apiserver, controller-manager and node agents,
 * each agent with its own data dir. VMs run as real QEMU microVMs unless an agent is simulated.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { startProcess, type ShoalProcess } from './process.js';

export interface AgentProcess extends ShoalProcess {
  nodeName: string;
  dataDir: string;
  address: string;
}

export interface TestCluster extends ControlPlane {
  controllerManager: ShoalProcess & { readyLine: string };
  agents: Map<string, AgentProcess>;
  startAgent(nodeName: string, opts?: { args?: string[]; dataDir?: string }): Promise<AgentProcess>;
}

export async function startAgent(server: string, nodeName: string, opts: { args?: string[]; dataDir?: string } = {}): Promise<AgentProcess> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `shoal-agent-${nodeName}-`)));
  const p = await startProcess('shoal-agent', ['--server', server, '--node-name', nodeName, '--data-dir', dataDir, '--port', '0', ...(opts.args ?? [])], {
    ready: /shoal-agent .* ready on/,
    timeoutMs: 60_000,
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

export async function startCluster(opts: { agents?: string[]; agentArgs?: string[]; controllerArgs?: string[] } = {}): Promise<TestCluster> {
  const cp = await startControlPlane();
  const agents = new Map<string, AgentProcess>();
  let controllerManager: (ShoalProcess & { readyLine: string }) | undefined;
  const stopAll = async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await controllerManager?.stop();
    await cp.stop();
    for (const a of agents.values()) {
      await killLeftoverVms(a.dataDir);
      await rm(a.dataDir, { recursive: true, force: true });
    }
  };
  try {
    controllerManager = await startProcess('shoal-controller-manager', ['--server', cp.url, '--port', '0', ...(opts.controllerArgs ?? [])], { ready: /ready on/ });
    const cluster: TestCluster = {
      ...cp,
      controllerManager,
      agents,
      async startAgent(nodeName, o = {}) {
        // Tests stop their agents with their VMs, so no QEMU outlives a test.
        const agent = await startAgent(cp.url, nodeName, { ...o, args: ['--stop-vms-on-exit', ...(opts.agentArgs ?? []), ...(o.args ?? [])] });
        agents.set(nodeName, agent);
        return agent;
      },
      stop: stopAll,
    };
    for (const name of opts.agents ?? []) await cluster.startAgent(name);
    return cluster;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
