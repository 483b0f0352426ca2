/**
 * The agent's NodeNetworks, made with the kernel's parts in the agent's own network namespace.
 * dnsmasq drops root for `nobody` and reads its hosts file again as that user, so its files live
 * under /run/shoal (every directory on the way open to others), in a directory of this data
 * dir's own: agents on one machine (tests, simulated hosts in namespaces) never share one.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { DhcpServers } from './dhcp.js';
import { Filter } from './filter.js';
import { Links } from './links.js';
import { Nat } from './nat.js';
import { NodeNetworks } from './node-networks.js';

export const DHCP_RUN_ROOT = '/run/shoal';

/** The directory of the agent with this data dir under DHCP_RUN_ROOT. */
export const agentRunDir = (dataDir: string) => join(DHCP_RUN_ROOT, `agent-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12)}`);

export async function nodeNetworks(dataDir: string, overlayAddress: string, log: Logger): Promise<NodeNetworks> {
  const dhcpDir = join(agentRunDir(dataDir), 'dhcp');
  await mkdir(dhcpDir, { recursive: true });
  for (const dir of [DHCP_RUN_ROOT, agentRunDir(dataDir), dhcpDir]) await chmod(dir, 0o755);
  return new NodeNetworks({
    links: new Links(),
    dhcp: new DhcpServers(dhcpDir),
    nat: new Nat(),
    filter: new Filter(),
    overlayAddress,
    log: log.child({ component: 'networks' }),
  });
}

/**
 * Stops the DHCP servers of the agent with this data dir and forgets its run dir: for tests and
 * benchmarks whose hosts (network namespaces) go away with everything in them but the dnsmasq
 * processes, which would hold the namespace on.
 */
export async function stopAgentDhcp(dataDir: string): Promise<void> {
  const dhcp = new DhcpServers(join(agentRunDir(dataDir), 'dhcp'));
  for (const bridge of await dhcp.bridges()) await dhcp.stop(bridge);
  await rm(agentRunDir(dataDir), { recursive: true, force: true });
}

/**
 * Removes the run dir of the agent with this data dir if no DHCP server is left in it (none was
 * ever started, or the agent stopped them with its guests): an agent that stops leaves nothing
 * behind under /run/shoal but the files of dnsmasq processes still serving its running guests.
 */
export async function removeRunDirIfUnused(dataDir: string): Promise<void> {
  for (const dir of [join(agentRunDir(dataDir), 'dhcp'), agentRunDir(dataDir)]) {
    try {
      await rmdir(dir); // only an empty one: a bridge's dir means its dnsmasq may still serve
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return;
    }
  }
}
