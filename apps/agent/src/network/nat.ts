/**
 * The node's NAT for its VMs, as one nftables table the agent owns (`ip shoal_nat`):
 *
 *   postrouting   traffic from a Network's subnet to anywhere outside it leaves with the
 *                 node's address (masquerade): guests reach the world through their node
 *   prerouting    a published port (spec.ports: host port → guest address and port) arriving
 *   output        from elsewhere, or from the node itself, is sent to the guest (DNAT)
 *
 * The table is written whole, in one nft transaction (made anew inside it, so never half
 * there), and only when what it must hold changed: a hash of that is the table's comment.
 * Connections already set up keep their translation (conntrack holds it), so rewriting the
 * table cuts none of them, and an agent that restarts with the same VMs changes nothing.
 * Packets are only forwarded with net.ipv4.ip_forward on, which ensure() turns on.
 */
import { createHash } from 'node:crypto';
import { execa } from 'execa';

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

export type NatChange = 'written' | 'unchanged';

export class Nat {
  /** `netns`: a named network namespace to work in (tests); the agent's own when absent. */
  constructor(private readonly netns?: string) {}

  async ensure(spec: NatSpec): Promise<NatChange> {
    await this.enableForwarding();
    const body = renderRules(spec);
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    if ((await this.tableComment()) === `shoal:${hash}`) return 'unchanged';
    // `add` then `delete` makes the delete safe when the table is not there yet; all of it is one transaction.
    await this.nft(['-f', '-'], `add table ip ${NAT_TABLE}\ndelete table ip ${NAT_TABLE}\ntable ip ${NAT_TABLE} {\n  comment "shoal:${hash}"\n${body}}\n`);
    return 'written';
  }

  /** Removes the table (the node runs no VM with a network any more); none is no error. */
  async remove(): Promise<void> {
    await this.nft(['-f', '-'], `add table ip ${NAT_TABLE}\ndelete table ip ${NAT_TABLE}\n`);
  }

  private async tableComment(): Promise<string | undefined> {
    // Text, not -j: nft 1.0.6's JSON leaves the table's comment out.
    const r = await this.inNetns('nft', ['list', 'table', 'ip', NAT_TABLE]);
    if (r.exitCode !== 0) return undefined;
    return /^\s*comment "([^"]*)"/m.exec(r.stdout)?.[1];
  }

  private async enableForwarding(): Promise<void> {
    const r = await this.inNetns('sysctl', ['-w', 'net.ipv4.ip_forward=1']);
    if (r.exitCode !== 0) throw new Error(`turning on IPv4 forwarding: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }

  private async nft(args: string[], input?: string): Promise<void> {
    const r = await this.inNetns('nft', args, input);
    if (r.exitCode !== 0) throw new Error(`nft ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }

  private inNetns(command: string, args: string[], input?: string) {
    return this.netns ? execa('ip', ['netns', 'exec', this.netns, command, ...args], { reject: false, input }) : execa(command, args, { reject: false, input });
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
    `  }\n` +
    `  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n${dnat}  }\n` +
    // Connections the node itself opens to a published port: to its own addresses only, as a client elsewhere would.
    `  chain output {\n    type nat hook output priority -100; policy accept;\n` +
    ports.map((p) => `    fib daddr type local ${p.protocol} dport ${p.hostPort} dnat to ${p.guestIp}:${p.guestPort}\n`).join('') +
    `  }\n`
  );
}
