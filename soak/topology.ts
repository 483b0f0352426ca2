/**
 * The soak's "hosts": one network namespace per node agent, each joined by a veth pair to a
 * bridge in the root namespace, on a private /24 of 10.213.0.0/16 that no interface of this
 * machine uses yet:
 *
 *   root namespace                        namespace shsk<id>-n<i>  (one per agent)
 *   shsk<id>br  10.213.X.1/24  ──veth──   shsk<id>n<i>  10.213.X.(10+i)/24
 *     etcd members (127.0.0.1)              shoal-agent --bind 10.213.X.(10+i)
 *     apiservers   (10.213.X.1)             its VM supervisors and QEMUs (inherit the namespace;
 *     controller-managers, the soak          user-mode networking, so no taps)
 *
 * The apiservers listen on the bridge address, so agents reach them over their veth and the
 * apiservers reach each agent's endpoint (consoles) at its own address. Everything else stays
 * on loopback. Partitions cut one host off from the apiservers in the two ways the issue names:
 *
 *   link       the host-side veth down: the host loses all traffic (carrier gone)
 *   nftables   a table in the host's own namespace drops its traffic to and from the
 *              apiservers' ports only: the agent's endpoint stays reachable, a partial cut
 *
 * Both leave the agent and its VMs running: only the network is gone.
 */
import { execa } from 'execa';
import { INTERFACE_PREFIX } from './run-identity.js';

export type PartitionKind = 'link' | 'nftables';

export interface Host {
  index: number;
  nodeName: string;
  /** Network namespace the agent (and its VMs) run in. */
  namespace: string;
  /** The veth end on the bridge, in the root namespace: what a link partition takes down. */
  hostVeth: string;
  /** The veth end inside the namespace. */
  namespaceVeth: string;
  /** The host's address, where its agent listens. */
  address: string;
}

export interface Topology {
  bridge: string;
  /** e.g. 10.213.7.0/24 */
  subnet: string;
  /** The bridge's address in the root namespace: where the apiservers listen. */
  bridgeAddress: string;
  hosts: Host[];
  /** `ip netns exec NS`: run a command inside the host's namespace. */
  inHost(host: Host): string[];
  /** Cuts the host off from the apiservers (listening on `apiserverPorts` at the bridge address). */
  partition(host: Host, kind: PartitionKind, apiserverPorts: number[]): Promise<void>;
  heal(host: Host, kind: PartitionKind): Promise<void>;
  /** Whether a TCP connection from inside the host to the bridge address's `port` opens within 2 s. */
  canReach(host: Host, port: number): Promise<boolean>;
  /** Removes the namespaces and the bridge (and with them the veths and any nftables tables). */
  teardown(): Promise<void>;
}

/** The nftables table a partition adds inside a host's namespace. */
const PARTITION_TABLE = 'shoal_soak_partition';

async function sh(command: string, args: string[], input?: string): Promise<string> {
  const r = await execa(command, args, { reject: false, input });
  if (r.exitCode !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.exitCode}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The /24s of 10.213.0.0/16 that some address or route of this machine already uses. */
async function subnetsInUse(): Promise<Set<number>> {
  const text = `${await sh('ip', ['-4', '-o', 'addr', 'show'])}\n${await sh('ip', ['-4', 'route', 'show', 'table', 'all'])}`;
  return new Set([...text.matchAll(/\b10\.213\.(\d+)\./g)].map((m) => Number(m[1])));
}

/**
 * Makes the bridge, one namespace and veth pair per node name, and picks the subnet. The third
 * octet starts from the run id, so parallel runs mostly try different ones; one another run took
 * in the same instant is seen by the check after the address is set.
 */
export async function createTopology(runId: string, nodeNames: string[]): Promise<Topology> {
  const bridge = `${INTERFACE_PREFIX}${runId}br`;
  const hosts: Host[] = nodeNames.map((nodeName, index) => ({
    index,
    nodeName,
    namespace: `${INTERFACE_PREFIX}${runId}-n${index}`,
    hostVeth: `${INTERFACE_PREFIX}${runId}h${index}`,
    namespaceVeth: `${INTERFACE_PREFIX}${runId}n${index}`,
    address: '',
  }));
  const topology: Topology = {
    bridge,
    subnet: '',
    bridgeAddress: '',
    hosts,
    inHost: (host) => ['ip', 'netns', 'exec', host.namespace],
    async partition(host, kind, apiserverPorts) {
      if (kind === 'link') {
        await sh('ip', ['link', 'set', host.hostVeth, 'down']);
        return;
      }
      const ports = apiserverPorts.join(', ');
      const ruleset = [
        `table inet ${PARTITION_TABLE} {`,
        `  chain output { type filter hook output priority 0; policy accept; ip daddr ${topology.bridgeAddress} tcp dport { ${ports} } drop; }`,
        `  chain input { type filter hook input priority 0; policy accept; ip saddr ${topology.bridgeAddress} tcp sport { ${ports} } drop; }`,
        `}`,
      ].join('\n');
      await sh('ip', ['netns', 'exec', host.namespace, 'nft', '-f', '-'], ruleset);
    },
    async heal(host, kind) {
      if (kind === 'link') await sh('ip', ['link', 'set', host.hostVeth, 'up']);
      else await sh('ip', ['netns', 'exec', host.namespace, 'nft', 'delete', 'table', 'inet', PARTITION_TABLE]);
    },
    async canReach(host, port) {
      const probe = `exec 3<>/dev/tcp/${topology.bridgeAddress}/${port}`;
      return (await execa('ip', ['netns', 'exec', host.namespace, 'timeout', '2', 'bash', '-c', probe], { reject: false })).exitCode === 0;
    },
    async teardown() {
      for (const h of hosts) await execa('ip', ['netns', 'delete', h.namespace], { reject: false });
      await execa('ip', ['link', 'delete', bridge], { reject: false });
    },
  };
  try {
    const used = await subnetsInUse();
    const first = parseInt(runId, 16) % 254;
    const octet = Array.from({ length: 254 }, (_, i) => ((first + i) % 254) + 1).find((o) => !used.has(o));
    if (octet === undefined) throw new Error('every /24 of 10.213.0.0/16 is in use on this machine');
    topology.subnet = `10.213.${octet}.0/24`;
    topology.bridgeAddress = `10.213.${octet}.1`;
    await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${topology.bridgeAddress}/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
    const clash = (await sh('ip', ['-4', '-o', 'addr', 'show'])).split('\n').filter((l) => l.includes(`10.213.${octet}.`) && !l.includes(` ${bridge} `));
    if (clash.length) throw new Error(`another interface took 10.213.${octet}.0/24 at the same time: ${clash.join('; ')}`);
    for (const h of hosts) {
      h.address = `10.213.${octet}.${10 + h.index}`;
      await sh('ip', ['netns', 'add', h.namespace]);
      await sh('ip', ['link', 'add', h.hostVeth, 'type', 'veth', 'peer', 'name', h.namespaceVeth]);
      await sh('ip', ['link', 'set', h.namespaceVeth, 'netns', h.namespace]);
      await sh('ip', ['link', 'set', h.hostVeth, 'master', bridge]);
      await sh('ip', ['link', 'set', h.hostVeth, 'up']);
      await sh('ip', ['-n', h.namespace, 'addr', 'add', `${h.address}/24`, 'dev', h.namespaceVeth]);
      await sh('ip', ['-n', h.namespace, 'link', 'set', h.namespaceVeth, 'up']);
      await sh('ip', ['-n', h.namespace, 'link', 'set', 'lo', 'up']);
    }
    return topology;
  } catch (err) {
    await topology.teardown();
    throw err;
  }
}

/** Tap (tun) devices in a host's namespace: there should be none (VMs use user-mode networking). */
export async function tapsInHost(host: Host): Promise<string[]> {
  const out = await sh('ip', ['-n', host.namespace, '-o', 'link', 'show', 'type', 'tun']);
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim());
}
