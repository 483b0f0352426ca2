/**
 * The node's NAT for its VMs, as one nftables table the agent owns (`ip shoal_nat`):
 *
 *   postrouting   traffic from a Network's subnet to anywhere outside it leaves with the
 *                 node's address (masquerade): guests reach the world through their node
 *   prerouting    a published port (spec.ports: host port → guest address and port) arriving
 *   output        from elsewhere, or from the node itself (127.0.0.1 too), is sent to the guest (DNAT)
 *
 * The table is written whole and only when what it must hold changed (nft-table.ts):
 * connections already set up keep their translation, so rewriting it cuts none of them.
 * Packets are only forwarded with net.ipv4.ip_forward on, which ensure() turns on (and, with
 * published ports, route_localnet, so a connection to 127.0.0.1 may be sent on to a guest).
 */
import { inNetns, NftTable, type TableChange } from './nft-table.js';

export const NAT_TABLE = 'shoal_nat';

export interface PublishedPort {
  protocol: 'tcp' | 'udp';
  hostPort: number;
  guestIp: string;
  guestPort: number;
}

export interface NatSpec {
  /** The Networks' subnets on this node (CIDR), masqueraded when their traffic leaves them. */
  subnets: string[];
  ports: PublishedPort[];
}

export type NatChange = TableChange;

export class Nat {
  private readonly table: NftTable;

  /** `netns`: a named network namespace to work in (tests); the agent's own when absent. */
  constructor(private readonly netns?: string) {
    this.table = new NftTable('ip', NAT_TABLE, netns);
  }

  async ensure(spec: NatSpec): Promise<NatChange> {
    await this.sysctl('net.ipv4.ip_forward');
    // A published port asked for on 127.0.0.1 (the node itself): its packets may then leave lo.
    if (spec.ports.length) await this.sysctl('net.ipv4.conf.all.route_localnet');
    return this.table.ensure(renderRules(spec));
  }

  /** Removes the table (the node runs no VM with a network any more); none is no error. */
  remove(): Promise<void> {
    return this.table.remove();
  }

  private async sysctl(key: string): Promise<void> {
    const r = await inNetns(this.netns, 'sysctl', ['-w', `${key}=1`]);
    if (r.exitCode !== 0) throw new Error(`turning on ${key}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }
}

/** The table's chains, in a fixed order: the same spec always renders the same text. */
export function renderRules(spec: NatSpec): string {
  const subnets = [...new Set(spec.subnets)].sort();
  const ports = [...spec.ports].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.hostPort - b.hostPort);
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.protocol}/${p.hostPort}`;
    if (seen.has(key)) throw new Error(`host port ${key} is published twice`);
    seen.add(key);
  }
  const dnat = ports.map((p) => `    ${p.protocol} dport ${p.hostPort} dnat to ${p.guestIp}:${p.guestPort}\n`).join('');
  return (
    `  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n` +
    subnets.map((s) => `    ip saddr ${s} ip daddr != ${s} masquerade\n`).join('') +
    // A connection from the node's 127.0.0.1 to a published port: the guest must answer the node, not itself.
    (ports.length && subnets.length ? `    ip saddr 127.0.0.0/8 ip daddr { ${subnets.join(', ')} } masquerade\n` : '') +
    `  }\n` +
    `  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${dnat}  }\n` +
    // Connections the node itself opens to a published port: to its own addresses only, as a client elsewhere would.
    `  chain output {\n    type nat hook output priority -100; policy accept;\n` +
    ports.map((p) => `    fib daddr type local ${p.protocol} dport ${p.hostPort} dnat to ${p.guestIp}:${p.guestPort}\n`).join('') +
    `  }\n`
  );
}
