/**
 * The plugins the scheduler runs, in order: cheap, decisive checks before arithmetic and the
 * cluster-wide views (kube-scheduler's order: unschedulable, taints, node affinity, host ports, resources,
 * then inter-VM rules). Score weights follow kube-scheduler's defaults: taints 3, node and VM
 * affinity and spread 2, resource allocation 1.
 */
import type { Profile } from './framework.js';
import { hostPorts } from './plugins/host-ports.js';
import { nodeAffinity } from './plugins/node-affinity.js';
import { nodeReady } from './plugins/node-ready.js';
import { nodeSelector } from './plugins/node-selector.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { resourceAllocation } from './plugins/resource-allocation.js';
import { resourcesFit } from './plugins/resources-fit.js';
import { taintToleration } from './plugins/taint-toleration.js';
import { topologySpread } from './plugins/topology-spread.js';
import { vmAffinity } from './plugins/vm-affinity.js';
import { volumePlacement } from './plugins/volume-placement.js';

export const defaultProfile: Profile = {
  filters: [nodeReady, nodeUnschedulable, taintToleration, nodeSelector, nodeAffinity, hostPorts, volumePlacement, resourcesFit, vmAffinity, topologySpread],
  scores: [taintToleration, nodeAffinity, vmAffinity, topologySpread, resourceAllocation],
};
