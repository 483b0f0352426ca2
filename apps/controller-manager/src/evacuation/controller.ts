/**
 * The evacuation controller's wiring (STYLE.md 4): VMs with evictionStrategy LiveMigrate that
 * are asked to leave their node get a Migration (reconcile.ts).
 *
 *   VM added/updated     → that VM, when it wants one (a Running LiveMigrate VM with an eviction request)
 */
import { objectKey, type Migration, type VirtualMachine } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, wantsEvacuation, type EvacuationContext } from './reconcile.js';

export const EVACUATION_NAME = 'evacuation';
export const EVACUATION_COMPONENT = 'shoal-evacuation-controller';

export function evacuationController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: EVACUATION_NAME });
  const vms = env.informers.informer<VirtualMachine>('vm');
  const migrations = env.informers.informer<Migration>('migration');
  const ctx: EvacuationContext = { client: env.client, vms, migrations, recorder: env.recorder(EVACUATION_COMPONENT), log };
  const controller = new Controller({ name: EVACUATION_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });
  const onVm: EventHandler<VirtualMachine> = (change) =>
    change.type !== 'delete' && wantsEvacuation(change.object) ? [objectKey(change.object.metadata)] : [];
  return controller.watch(vms, onVm);
}
