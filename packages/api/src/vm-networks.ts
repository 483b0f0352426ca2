/**
 * Which Networks a VM's NICs are on, as the network controller (addresses) and the agents (taps)
 * both read it: the Networks spec.networks names, in its namespace, in order; or, when it names
 * none and its network.mode is `default`, the cluster's default Network — the Network `default`
 * in namespace shoal-system, when the cluster has one — as every VM's eth0; or none (QEMU's user
 * networking, or no NIC).
 */
import type { VirtualMachine } from './model/generated.js';
import { SYSTEM_NAMESPACE } from './namespaces.js';

/** The cluster's default Network: made by `shoal up`, or by an administrator. */
export const CLUSTER_NETWORK = { namespace: SYSTEM_NAMESPACE, name: 'default' } as const;
export const CLUSTER_NETWORK_KEY = `${CLUSTER_NETWORK.namespace}/${CLUSTER_NETWORK.name}`;

export interface VmNetworkRef {
  namespace: string;
  name: string;
  /** As status.interfaces[].network names it: the name in the VM's namespace, `shoal-system/default` for the cluster's. */
  label: string;
}

/** The VM's Networks, eth0 first; `clusterNetworkExists`: whether the cluster has its default Network now. */
export function vmNetworkRefs(vm: VirtualMachine, clusterNetworkExists: boolean): VmNetworkRef[] {
  const named = vm.spec.networks ?? [];
  if (named.length) return named.map((n) => ({ namespace: vm.metadata.namespace!, name: n.name, label: n.name }));
  if (joinsClusterNetwork(vm) && clusterNetworkExists) return [{ ...CLUSTER_NETWORK, label: CLUSTER_NETWORK_KEY }];
  return [];
}

/** A VM that names no Network and asks for the default: on the cluster's default Network when there is one. */
export const joinsClusterNetwork = (vm: VirtualMachine) => !vm.spec.networks?.length && (vm.spec.network?.mode ?? 'default') === 'default';
