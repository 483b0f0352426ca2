/**
 * This node's side of VM networks, converged as a whole from what the control plane says:
 *
 *   per Network with a NIC here   a bridge holding the gateway (the same address and MAC on
 *                                 every node), a VXLAN device on it (the Network's VNI, flooding
 *                                 to every other node's overlay address), dnsmasq on it with a
 *                                 static lease per NIC here (the address status.interfaces says)
 *   per NIC here                  a tap on its Network's bridge, named after the VM and the NIC
 *   the node                      NAT out of the subnets here, and each published port
 *                                 (spec.ports) to its guest's eth0; Networks kept apart; gateway
 *                                 ARP and DHCP kept off the overlay (filter.ts)
 *
 * Every step says what must be and changes only what differs (links.ts, dhcp.ts, nft-table.ts),
 * so converging again — on any change, or after the agent restarts — leaves a device that is
 * right alone and cuts no connection; what no NIC here needs any more is removed (by the names'
 * prefixes, names.ts). Converges run one at a time.
 */
import { CLUSTER_NETWORK_KEY, formatIpv4, gatewayOf, parseCidr, vmNetworkRefs, type Network, type VirtualMachine, type VmInterfaceStatus } from '@shoal/api';
import type { Logger } from 'pino';
import type { TapNic } from '../runtime/qemu/command-line.js';
import type { DhcpLease, DhcpServers } from './dhcp.js';
import type { Filter } from './filter.js';
import type { Links } from './links.js';
import type { Nat, PublishedPort } from './nat.js';
import { BRIDGE_PREFIX, bridgeName, gatewayMac, networkKey, TAP_PREFIX, tapName, VXLAN_PREFIX, vxlanName } from './names.js';

/** IANA's VXLAN port. */
export const VXLAN_PORT = 4789;

/** Why a VM with Networks cannot be attached here yet (its status says so; it is looked at again). */
export const NETWORKS_PENDING = 'NetworksPending';

export interface NodeNetworkState {
  /** The VMs whose NICs this node serves: bound here, or with a guest here (a migration's target, one still stopping). */
  vms: VirtualMachine[];
  /** Every Network in the cluster (each one's subnet is kept apart from the others). */
  networks: Network[];
  /** The other nodes' overlay addresses. */
  peers: string[];
}

export type Attachment = { ok: true; nics: TapNic[] } | { ok: false; reason: string; message: string };

export interface NodeNetworksOptions {
  links: Links;
  dhcp: DhcpServers;
  nat: Nat;
  filter: Filter;
  /** This node's end of the overlay. */
  overlayAddress: string;
  vxlanPort?: number;
  log: Logger;
}

/** A Network as this node serves it. */
interface Served {
  key: string;
  vni: number;
  cidr: string;
  prefixLength: number;
  gateway: string;
  taps: string[];
  leases: DhcpLease[];
}

/** A NIC of a VM as this node serves it: its Network, the interface the control plane gave, its tap. */
interface ResolvedNic {
  key: string;
  net: Network;
  iface: VmInterfaceStatus;
  tap: string;
}

type Resolution = { ok: true; nics: ResolvedNic[] } | { ok: false; reason: string; message: string };

/**
 * A VM's NICs, eth0 first, each with its Network, address and tap — or why it has none yet: its
 * addresses not given (the network controller), or a Network without its overlay segment yet.
 */
function resolveNics(vm: VirtualMachine, networks: ReadonlyMap<string, Network>): Resolution {
  const refs = vmNetworkRefs(vm, networks.has(CLUSTER_NETWORK_KEY));
  const interfaces = vm.status?.interfaces ?? [];
  const missing = refs.filter((r) => !interfaces.some((i) => i.network === r.label)).map((r) => r.label);
  if (missing.length)
    return { ok: false, reason: NETWORKS_PENDING, message: `waiting for addresses on ${missing.join(', ')} (the network controller gives them)` };
  const nics: ResolvedNic[] = [];
  for (const [index, ref] of refs.entries()) {
    const key = networkKey(ref.namespace, ref.name);
    const net = networks.get(key);
    if (net?.status?.vni === undefined)
      return { ok: false, reason: NETWORKS_PENDING, message: `waiting for Network ${ref.label}'s overlay segment (the network controller gives it)` };
    nics.push({ key, net, iface: interfaces.find((i) => i.network === ref.label)!, tap: tapName(vm.metadata.uid!, index) });
  }
  return { ok: true, nics };
}

/** The taps a VM's NICs open here, in order, with the MACs the control plane gave; or why it has none yet. */
export function attachmentOf(vm: VirtualMachine, networks: ReadonlyMap<string, Network>): Attachment {
  const r = resolveNics(vm, networks);
  return r.ok ? { ok: true, nics: r.nics.map((n) => ({ tap: n.tap, mac: n.iface.mac })) } : r;
}

/** The VMs that can be attached, each with its NICs (none for a VM without Networks). */
interface AttachedVm {
  vm: VirtualMachine;
  nics: ResolvedNic[];
}

export class NodeNetworks {
  private last: Promise<void> = Promise.resolve();
  /** Nothing served, and everything removed already: nothing to look at until a NIC comes (not after a restart: the first converge looks). */
  private bare = false;

  constructor(private readonly o: NodeNetworksOptions) {}

  /** Converges the node to `state` once the converge before it has ended. */
  sync(state: NodeNetworkState): Promise<void> {
    const next = this.last.catch(() => undefined).then(() => this.converge(state));
    this.last = next;
    return next;
  }

  private async converge(state: NodeNetworkState): Promise<void> {
    const { links, dhcp, nat, filter } = this.o;
    const networks = new Map(state.networks.map((n) => [networkKey(n.metadata.namespace!, n.metadata.name!), n]));
    const attached = state.vms.flatMap((vm): AttachedVm[] => {
      const r = resolveNics(vm, networks);
      return r.ok && r.nics.length ? [{ vm, nics: r.nics }] : [];
    });
    const served = servedNetworks(attached);
    if (!served.size && this.bare) return;

    for (const s of served.values()) {
      const bridge = bridgeName(s.key);
      await links.ensureBridge(bridge, [`${s.gateway}/${s.prefixLength}`], gatewayMac(s.key));
      await links.ensureVxlan(vxlanName(s.key), {
        vni: s.vni,
        local: this.o.overlayAddress,
        port: this.o.vxlanPort ?? VXLAN_PORT,
        bridge,
        peers: state.peers.filter((p) => p !== this.o.overlayAddress),
      });
      for (const tap of s.taps) await links.ensureTap(tap, bridge);
      await dhcp.ensure({ bridge, cidr: s.cidr, gateway: s.gateway }, s.leases);
    }

    if (served.size) {
      await nat.ensure({ subnets: [...served.values()].map((s) => s.cidr), ports: publishedPorts(attached, this.o.log) });
      await filter.ensure({ subnets: [...networks.values()].map((n) => n.spec.cidr), gateways: [...served.values()].map((s) => s.gateway) });
    }

    // What no NIC here needs any more: DHCP, taps (off their bridges), then each Network's devices.
    const keep = new Set([...served.values()].flatMap((s) => [bridgeName(s.key), vxlanName(s.key), ...s.taps]));
    for (const bridge of await dhcp.bridges()) if (!keep.has(bridge)) await dhcp.stop(bridge);
    for (const prefix of [TAP_PREFIX, VXLAN_PREFIX, BRIDGE_PREFIX])
      for (const name of await links.names(prefix))
        if (!keep.has(name)) {
          await links.remove(name);
          this.o.log.info({ device: name }, 'network device removed: no NIC here needs it');
        }
    if (!served.size) {
      await nat.remove();
      await filter.remove();
    }
    this.bare = !served.size;
  }
}

/**
 * The ports the VMs with NICs here publish, to their eth0's address. The scheduler keeps two VMs
 * publishing one host port off one node; should two meet anyway (bound by hand), the older VM
 * keeps the port and the clash is logged.
 */
function publishedPorts(attached: readonly AttachedVm[], log: Logger): PublishedPort[] {
  const ports = new Map<string, PublishedPort & { vm: string }>();
  const byAge = [...attached].sort((a, b) => (a.vm.metadata.creationTimestamp ?? '').localeCompare(b.vm.metadata.creationTimestamp ?? ''));
  for (const { vm, nics } of byAge) {
    const eth0 = nics[0]!.iface;
    if (!vm.spec.ports?.length) continue;
    for (const p of vm.spec.ports) {
      const protocol = p.protocol === 'UDP' ? 'udp' : 'tcp';
      const key = `${protocol}/${p.hostPort}`;
      const holder = ports.get(key);
      if (holder) {
        log.warn(
          { port: key, holder: holder.vm, vm: `${vm.metadata.namespace}/${vm.metadata.name}` },
          'host port published by two VMs on this node: the older keeps it',
        );
        continue;
      }
      ports.set(key, { protocol, hostPort: p.hostPort, guestIp: eth0.ip, guestPort: p.guestPort, vm: `${vm.metadata.namespace}/${vm.metadata.name}` });
    }
  }
  return [...ports.values()].map(({ vm: _, ...port }) => port);
}

/** The Networks with a NIC here, each with its taps and leases. */
function servedNetworks(attached: readonly AttachedVm[]): Map<string, Served> {
  const served = new Map<string, Served>();
  for (const { nics } of attached)
    for (const { key, net, iface, tap } of nics) {
      const subnet = parseCidr(net.spec.cidr);
      if (typeof subnet === 'string') throw new Error(`Network ${key}: ${subnet}`); // the apiserver admits none such
      const entry: Served = served.get(key) ?? {
        key,
        vni: net.status!.vni!,
        cidr: net.spec.cidr,
        prefixLength: subnet.prefixLength,
        gateway: net.status?.gateway ?? formatIpv4(gatewayOf(subnet, net.spec.gateway)),
        taps: [],
        leases: [],
      };
      entry.taps.push(tap);
      entry.leases.push({ mac: iface.mac, ip: iface.ip });
      served.set(key, entry);
    }
  return served;
}
