/**
 * The network controller's wiring (STYLE.md 4): addresses for the NICs of VirtualMachines on
 * Networks (reconcile.ts). One queue, two kinds of keys:
 *
 *   VM changed or deleted        → vm/<its key>, when it names Networks, has interfaces or is gone,
 *                                  and the change touched what the reconcile reads of it
 *   IPAddress added or deleted   → its VM's key (one whose VM is gone is given back), its
 *                                  Network's; deleted: the VMs of its namespace still waiting
 *                                  for an address (NetworksReady False)
 *   Network added or changed     → its own key, and the VMs of its namespace that name it; the
 *                                  cluster's default Network (also when deleted): every VM that
 *                                  joins it
 */
import { CLUSTER_NETWORK_KEY, findCondition, joinsClusterNetwork, type IPAddress, type Network, type VirtualMachine } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { NETWORKS_READY, networkQueueKey, reconcile, vmOfAddress, vmQueueKey, type NetworkContext } from './reconcile.js';

export const NETWORK_NAME = 'network';
export const NETWORK_COMPONENT = 'shoal-network-controller';

export function networkController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: NETWORK_NAME });
  const vms = env.informers.informer<VirtualMachine>('vm');
  const networks = env.informers.informer<Network>('network');
  const addresses = env.informers.informer<IPAddress>('ipaddress');
  const ctx: NetworkContext = {
    client: env.client,
    vms,
    networks,
    addresses,
    taken: new Map(),
    vnis: new Map(),
    recorder: env.recorder(NETWORK_COMPONENT),
    log,
  };
  const controller = new Controller({ name: NETWORK_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const clusterNetworkExists = () => networks.get(CLUSTER_NETWORK_KEY) !== undefined;
  const waitingIn = (namespace: string, network?: string) =>
    vms
      .list()
      .filter((v) => v.metadata.namespace === namespace && (network === undefined || v.spec.networks?.some((n) => n.name === network)))
      .filter((v) => network !== undefined || findCondition(v.status?.conditions, NETWORKS_READY)?.status === 'False')
      .map((v) => vmQueueKey(namespace, v.metadata.name!));
  // The cluster's default Network made, changed or gone: every VM that joins it.
  const joiningClusterNetwork = () =>
    vms
      .list()
      .filter(joinsClusterNetwork)
      .map((v) => vmQueueKey(v.metadata.namespace!, v.metadata.name!));

  // What the reconcile reads of a VM: an update that changes none of it (the agent's status
  // writes, a label) needs no look.
  const networkFacts = (v: VirtualMachine) =>
    JSON.stringify([
      v.metadata.uid,
      v.metadata.deletionTimestamp,
      v.spec.networks,
      v.spec.network,
      v.status?.interfaces,
      findCondition(v.status?.conditions, NETWORKS_READY),
    ]);
  const onVm: EventHandler<VirtualMachine> = (change) => {
    const v = change.object;
    if (change.type === 'update' && networkFacts(v) === networkFacts(change.old)) return [];
    return change.type === 'delete' || v.spec.networks?.length || v.status?.interfaces?.length || (joinsClusterNetwork(v) && clusterNetworkExists())
      ? [vmQueueKey(v.metadata.namespace!, v.metadata.name!)]
      : [];
  };
  const onAddress: EventHandler<IPAddress> = ({ type, object: a }) => {
    const ns = a.metadata.namespace!;
    const [vmNamespace, vmName] = vmOfAddress(a).split('/') as [string, string];
    const keys = [vmQueueKey(vmNamespace, vmName), networkQueueKey(ns, a.spec.network)];
    return type === 'delete' ? [...keys, ...waitingIn(vmNamespace)] : keys;
  };
  const onNetwork: EventHandler<Network> = ({ type, object: n }) => {
    const key = `${n.metadata.namespace}/${n.metadata.name}`;
    const own = type === 'delete' ? [] : [networkQueueKey(n.metadata.namespace!, n.metadata.name!)];
    return [...own, ...(key === CLUSTER_NETWORK_KEY ? joiningClusterNetwork() : type === 'delete' ? [] : waitingIn(n.metadata.namespace!, n.metadata.name!))];
  };
  return controller.watch(vms, onVm).watch(addresses, onAddress).watch(networks, onNetwork);
}
