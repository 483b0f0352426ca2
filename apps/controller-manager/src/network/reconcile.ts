/**
 * The network controller's reconcile: addresses for VM NICs, taken race-free and given back.
 *
 *   vm/<ns>/<name>    each Network the VM is on (vmNetworkRefs: those it names, or the cluster's
 *                     default Network): the address its IPAddress holds, or the lowest
 *                     free one of the subnet, taken by creating its IPAddress (named after the
 *                     address: a second create of it is 409 AlreadyExists, whoever makes it —
 *                     another worker, another controller-manager, through any apiserver — and
 *                     the next free one is tried); status.interfaces and the NetworksReady
 *                     condition written (NetworkNotFound, NetworkFull say why not). IPAddresses
 *                     of the name held for another VM (one deleted, made again) or a Network it
 *                     no longer names are deleted; all of them once the VM is gone.
 *   net/<ns>/<name>   the Network's status.allocated, from the IPAddresses naming it; its
 *                     status.vni, the overlay segment that carries it between nodes: the lowest
 *                     one no other Network has, given once and kept for the Network's life
 *
 * An address is the VM's for its life: restarts, agent restarts and migrations change nothing
 * here. Nothing waits: a conflict (409) throws and the queue retries from fresh state.
 */
import {
  ApiError,
  capacityOf,
  findCondition,
  firstFree,
  formatIpv4,
  gatewayOf,
  ignoreNotFound,
  ipAddressName,
  macForNic,
  parseCidr,
  parseIpv4,
  setCondition,
  timestamp,
  type IPAddress,
  type Network,
  type VirtualMachine,
  type VmInterfaceStatus,
  type VmNetworkRef,
  CLUSTER_NETWORK_KEY,
  vmNetworkRefs,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';

export const NETWORKS_READY = 'NetworksReady';
export const NETWORK_NOT_FOUND = 'NetworkNotFound';
export const NETWORK_FULL = 'NetworkFull';
/** How soon a VM waiting for an address looks again without an event (a freed address enqueues it too). */
const WAITING_RETRY_MS = 15_000;
/** Creates tried in one reconcile when others keep taking the address chosen. */
const MAX_TAKE_ATTEMPTS = 16;

export interface NetworkContext {
  client: ShoalClient;
  vms: Pick<Informer<VirtualMachine>, 'get' | 'list'>;
  networks: Pick<Informer<Network>, 'get' | 'list'>;
  addresses: Pick<Informer<IPAddress>, 'list'>;
  /**
   * Addresses this process took whose IPAddress the cache may not show yet, by `<vmUID>/<network>`:
   * without it a second reconcile of the VM would take a second address.
   */
  taken: Map<string, IPAddress>;
  /**
   * VNIs this process gave, by Network uid, that the cache may not show yet: chosen and
   * recorded with nothing awaited in between, so two workers never give the same one.
   */
  vnis: Map<string, number>;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  now?: () => number;
}

export const vmQueueKey = (namespace: string, name: string) => `vm/${namespace}/${name}`;
export const networkQueueKey = (namespace: string, name: string) => `net/${namespace}/${name}`;

export async function reconcile(ctx: NetworkContext, key: string): Promise<Result> {
  const [kind, namespace, name] = key.split('/') as [string, string, string];
  return kind === 'net' ? reconcileNetwork(ctx, namespace, name) : reconcileVm(ctx, namespace, name);
}

async function reconcileVm(ctx: NetworkContext, namespace: string, name: string): Promise<Result> {
  const vm = ctx.vms.get(`${namespace}/${name}`);
  const live = vm && !vm.metadata.deletionTimestamp ? vm : undefined;
  const refs = live ? vmNetworkRefs(live, ctx.networks.get(CLUSTER_NETWORK_KEY) !== undefined) : [];
  const wanted = new Set(refs.map((r) => `${r.namespace}/${r.name}`));
  const held = addressesOf(ctx, namespace, name);
  for (const a of held)
    if (a.spec.vmUID !== live?.metadata.uid || !wanted.has(`${a.metadata.namespace}/${a.spec.network}`)) {
      await ignoreNotFound(ctx.client.delete('ipaddress', a.metadata.name!, { namespace: a.metadata.namespace }));
      ctx.log.info({ vm: `${namespace}/${name}`, network: `${a.metadata.namespace}/${a.spec.network}`, address: a.spec.address }, 'address released');
    }
  if (!live) {
    for (const k of [...ctx.taken.keys()]) if (vmOfAddress(ctx.taken.get(k)!) === `${namespace}/${name}`) ctx.taken.delete(k);
    return {};
  }

  const interfaces: VmInterfaceStatus[] = [];
  const problems: { reason: string; message: string }[] = [];
  for (const ref of refs) {
    const got = await addressFor(ctx, live, ref, held);
    if ('reason' in got) problems.push(got);
    else interfaces.push(got);
  }
  await writeStatus(ctx, live, refs.length > 0, interfaces, problems);
  return problems.length ? { requeueAfterMs: WAITING_RETRY_MS } : {};
}

/** The VM's NIC on a Network: the address it holds, or one taken now; or why there is none. */
async function addressFor(
  ctx: NetworkContext,
  vm: VirtualMachine,
  ref: VmNetworkRef,
  held: IPAddress[],
): Promise<VmInterfaceStatus | { reason: string; message: string }> {
  const { namespace, name: networkName } = ref;
  const uid = vm.metadata.uid!;
  const net = ctx.networks.get(`${namespace}/${networkName}`);
  if (!net) return { reason: NETWORK_NOT_FOUND, message: `Network ${networkName} does not exist in namespace ${namespace}` };
  const subnet = parseCidr(net.spec.cidr);
  if (typeof subnet === 'string') return { reason: NETWORK_NOT_FOUND, message: `Network ${networkName}: ${subnet}` };
  const gateway = gatewayOf(subnet, net.spec.gateway);
  const nic = (address: string): VmInterfaceStatus => ({
    network: ref.label,
    ip: address,
    prefixLength: subnet.prefixLength,
    gateway: formatIpv4(gateway),
    mac: macForNic(uid, ref.label),
  });
  const sameNamespace = namespace === vm.metadata.namespace;

  const takenKey = `${uid}/${namespace}/${networkName}`;
  const mine = held.find((a) => a.spec.vmUID === uid && a.metadata.namespace === namespace && a.spec.network === networkName) ?? ctx.taken.get(takenKey);
  if (mine) {
    if (held.includes(mine)) ctx.taken.delete(takenKey);
    return nic(mine.spec.address);
  }

  const inUse = new Set<number>();
  for (const a of ctx.addresses.list()) if (a.metadata.namespace === namespace && a.spec.network === networkName) inUse.add(parseIpv4(a.spec.address)!);
  for (const a of ctx.taken.values()) if (a.metadata.namespace === namespace && a.spec.network === networkName) inUse.add(parseIpv4(a.spec.address)!);
  for (let attempt = 0; attempt < MAX_TAKE_ATTEMPTS; attempt++) {
    const free = firstFree(subnet, gateway, (a) => inUse.has(a));
    if (free === undefined)
      return { reason: NETWORK_FULL, message: `Network ${networkName} (${net.spec.cidr}) has no free address: all ${capacityOf(subnet)} are in use` };
    const address = formatIpv4(free);
    const claim: IPAddress = {
      apiVersion: 'shoal.dev/v1alpha1',
      kind: 'IPAddress',
      metadata: {
        name: ipAddressName(networkName, address),
        namespace,
        // An owner in another namespace is no owner (Kubernetes' rule): those this controller gives back alone.
        ...(sameNamespace ? { ownerReferences: [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', name: vm.metadata.name!, uid }] } : {}),
      },
      spec: { network: networkName, address, vmName: vm.metadata.name!, ...(sameNamespace ? {} : { vmNamespace: vm.metadata.namespace }), vmUID: uid },
    };
    try {
      const created = await ctx.client.create<IPAddress>('ipaddress', claim, { namespace });
      ctx.taken.set(takenKey, created);
      ctx.log.info({ vm: `${namespace}/${vm.metadata.name}`, network: networkName, address }, 'address taken');
      return nic(address);
    } catch (err) {
      // Someone took it first (this cache did not show it yet): the next one.
      if (err instanceof ApiError && err.code === 409) inUse.add(free);
      else throw err;
    }
  }
  throw new Error(`Network ${networkName}: ${MAX_TAKE_ATTEMPTS} addresses in a row were taken by others meanwhile; trying again`);
}

/** status.interfaces and NetworksReady, written when they differ from what the VM has (pinned to its version). */
async function writeStatus(
  ctx: NetworkContext,
  vm: VirtualMachine,
  wantsNetworks: boolean,
  interfaces: VmInterfaceStatus[],
  problems: { reason: string; message: string }[],
): Promise<void> {
  const before = vm.status?.conditions;
  const ready = findCondition(before, NETWORKS_READY);
  const next = problems.length
    ? { type: NETWORKS_READY, status: 'False' as const, reason: problems[0]!.reason, message: problems.map((p) => p.message).join('; ') }
    : { type: NETWORKS_READY, status: 'True' as const, reason: 'AddressesAssigned', message: interfaces.map((i) => `${i.network}: ${i.ip}`).join(', ') };
  const sameInterfaces = JSON.stringify(vm.status?.interfaces ?? []) === JSON.stringify(interfaces);
  const sameCondition = wantsNetworks ? ready?.status === next.status && ready.reason === next.reason && ready.message === next.message : ready === undefined;
  if (sameInterfaces && sameCondition) return;
  const conditions = wantsNetworks ? setCondition(before, next, timestamp(ctx.now?.() ?? Date.now())) : (before ?? []).filter((c) => c.type !== NETWORKS_READY);
  const { name, namespace, resourceVersion } = vm.metadata;
  await ctx.client.patch(
    'vm',
    name!,
    { metadata: { resourceVersion }, status: { interfaces: interfaces.length ? interfaces : null, conditions } },
    { namespace, type: 'merge', status: true },
  );
  if (problems.length && (ready?.status !== 'False' || ready.reason !== next.reason)) ctx.recorder.event(vm, 'Warning', next.reason, next.message);
}

async function reconcileNetwork(ctx: NetworkContext, namespace: string, name: string): Promise<Result> {
  const net = ctx.networks.get(`${namespace}/${name}`);
  if (!net || net.metadata.deletionTimestamp) {
    const live = new Set(ctx.networks.list().map((n) => n.metadata.uid));
    for (const uid of ctx.vnis.keys()) if (!live.has(uid)) ctx.vnis.delete(uid);
    return {};
  }
  const allocated = ctx.addresses.list().filter((a) => a.metadata.namespace === namespace && a.spec.network === name).length;
  const vni = net.status?.vni ?? vniFor(ctx, net);
  if (net.status?.allocated === allocated && net.status?.vni === vni) return {};
  await ignoreNotFound(
    ctx.client.patch(
      'network',
      name,
      { metadata: { resourceVersion: net.metadata.resourceVersion }, status: { allocated, vni } },
      { namespace, type: 'merge', status: true },
    ),
  );
  if (net.status?.vni === undefined) ctx.log.info({ network: `${namespace}/${name}`, vni }, 'overlay segment given');
  return {};
}

/** The first VNI given to Networks (lower ones are left for anything else on the hosts' underlay). */
export const FIRST_VNI = 4096;

/** The Network's VNI: the one this process gave it already, or the lowest no other Network has (recorded at once). */
function vniFor(ctx: NetworkContext, net: Network): number {
  const uid = net.metadata.uid!;
  const given = ctx.vnis.get(uid);
  if (given !== undefined) return given;
  const used = new Set<number>();
  for (const n of ctx.networks.list()) if (n.status?.vni !== undefined && n.metadata.uid !== uid) used.add(n.status.vni);
  for (const [other, v] of ctx.vnis) if (other !== uid) used.add(v);
  let vni = FIRST_VNI;
  while (used.has(vni)) vni++;
  ctx.vnis.set(uid, vni);
  return vni;
}

/** The IPAddresses held for NICs of VMs of this name (any uid), on any Network. */
function addressesOf(ctx: NetworkContext, namespace: string, vmName: string): IPAddress[] {
  return ctx.addresses.list().filter((a) => a.spec.vmName === vmName && (a.spec.vmNamespace ?? a.metadata.namespace) === namespace);
}

/** The `namespace/name` of the VM an address is held for. */
export const vmOfAddress = (a: IPAddress) => `${a.spec.vmNamespace ?? a.metadata.namespace}/${a.spec.vmName}`;
