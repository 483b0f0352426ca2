/**
 * The node's filtering for VM networks, two tables the agent owns (written as nft-table.ts does):
 *
 *   ip shoal_isolation       Networks are apart: the node routes between its bridges (each holds
 *                            its Network's gateway), so a packet from one Network's subnet to
 *                            another's is dropped in forward — whichever nodes they live on
 *   bridge shoal_overlay     What each node serves for itself stays off the overlay (VXLAN
 *                            devices, `shx*`): every node's bridge holds its Network's gateway
 *                            address with the same MAC (an anycast gateway: a guest's first hop
 *                            is always its own node, and stays right when the guest moves), and
 *                            each node's DHCP serves only its own VMs. ARP for or from a gateway
 *                            and DHCP never cross to another node, so no node answers for another
 *                            and no bridge sees its own MAC arrive from a peer.
 */
import { NftTable, type TableChange } from './nft-table.js';

export const ISOLATION_TABLE = 'shoal_isolation';
export const OVERLAY_TABLE = 'shoal_overlay';
/** The VXLAN devices' name prefix (names.ts), matched by the overlay rules. */
const OVERLAY_DEVICES = 'shx*';

export interface FilterSpec {
  /** Every Network's subnet in the cluster (CIDR): traffic between two of them is dropped. */
  subnets: string[];
  /** The gateways of the Networks on this node: their ARP stays on the node. */
  gateways: string[];
}

export class Filter {
  private readonly isolation: NftTable;
  private readonly overlay: NftTable;

  /** `netns`: a named network namespace to work in (tests); the agent's own when absent. */
  constructor(netns?: string) {
    this.isolation = new NftTable('ip', ISOLATION_TABLE, netns);
    this.overlay = new NftTable('bridge', OVERLAY_TABLE, netns);
  }

  async ensure(spec: FilterSpec): Promise<TableChange> {
    const a = await this.isolation.ensure(renderIsolation(spec.subnets));
    const b = await this.overlay.ensure(renderOverlay(spec.gateways));
    return a === 'written' || b === 'written' ? 'written' : 'unchanged';
  }

  async remove(): Promise<void> {
    await this.isolation.remove();
    await this.overlay.remove();
  }
}

const set = (items: readonly string[]) => `{ ${items.join(', ')} }`;

export function renderIsolation(subnets: readonly string[]): string {
  const all = [...new Set(subnets)].sort();
  const rules = all.length > 1 ? all.map((s) => `    ip saddr ${s} ip daddr ${set(all.filter((o) => o !== s))} drop\n`).join('') : '';
  return `  chain forward {\n    type filter hook forward priority filter; policy accept;\n${rules}  }\n`;
}

export function renderOverlay(gateways: readonly string[]): string {
  const gws = [...new Set(gateways)].sort();
  const dev = `"${OVERLAY_DEVICES}"`;
  const arp = gws.length
    ? [
        `iifname ${dev} arp saddr ip ${set(gws)} drop`,
        `iifname ${dev} arp daddr ip ${set(gws)} drop`,
        `oifname ${dev} arp saddr ip ${set(gws)} drop`,
        `oifname ${dev} arp daddr ip ${set(gws)} drop`,
      ]
    : [];
  const forward = [`iifname ${dev} udp dport { 67, 68 } drop`, `oifname ${dev} udp dport { 67, 68 } drop`, ...arp];
  const output = [`oifname ${dev} udp sport 67 drop`, ...(gws.length ? [`oifname ${dev} arp saddr ip ${set(gws)} drop`] : [])];
  const chain = (name: string, rules: string[]) =>
    `  chain ${name} {\n    type filter hook ${name} priority filter; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`;
  return chain('forward', forward) + chain('output', output);
}
