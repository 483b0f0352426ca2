/** The plugins the scheduler runs today, in order: cheap, decisive checks before arithmetic. */
import type { Profile } from './framework.js';
import { firstFit } from './plugins/first-fit.js';
import { nodeReady } from './plugins/node-ready.js';
import { nodeSelector } from './plugins/node-selector.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { resourcesFit } from './plugins/resources-fit.js';

export const firstFitProfile: Profile = {
  filters: [nodeReady, nodeUnschedulable, nodeSelector, resourcesFit],
  scores: [firstFit],
};
