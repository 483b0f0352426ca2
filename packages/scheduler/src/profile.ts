/**
 * The plugins the scheduler runs today, in order: cheap, decisive checks before arithmetic
 * (kube-scheduler's order: unschedulable, taints, node affinity, then resources).
 */
import type { Profile } from './framework.js';
import { firstFit } from './plugins/first-fit.js';
import { nodeAffinity } from './plugins/node-affinity.js';
import { nodeReady } from './plugins/node-ready.js';
import { nodeSelector } from './plugins/node-selector.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { resourcesFit } from './plugins/resources-fit.js';
import { taintToleration } from './plugins/taint-toleration.js';

export const firstFitProfile: Profile = {
  filters: [nodeReady, nodeUnschedulable, taintToleration, nodeSelector, nodeAffinity, resourcesFit],
  scores: [taintToleration, nodeAffinity, firstFit],
};
