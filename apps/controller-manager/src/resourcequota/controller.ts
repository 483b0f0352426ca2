/**
 * The resourcequota controller's wiring (STYLE.md 4): every ResourceQuota's status.used follows
 * what its namespace's VMs use (reconcile.ts). It used to be a loop inside every apiserver; as a
 * controller it writes through the API like any other, so RBAC (system:shoal:resourcequota with
 * --controller-tokens-dir) and the audit log apply to its writes.
 *
 *   ResourceQuota added/updated                    → that quota
 *   VM added or deleted, or its resources changed  → every quota in the VM's namespace
 */
import { objectKey, vmUsage, type ResourceQuota, type VirtualMachine } from '@shoal/api';
import { Controller, enqueueObject, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, type ResourceQuotaContext } from './reconcile.js';

export const RESOURCEQUOTA_NAME = 'resourcequota';

export function resourceQuotaController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: RESOURCEQUOTA_NAME });
  const quotas = env.informers.informer<ResourceQuota>('resourcequota');
  const vms = env.informers.informer<VirtualMachine>('vm');
  const ctx: ResourceQuotaContext = { client: env.client, quotas, vms, log };
  const controller = new Controller({ name: RESOURCEQUOTA_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const quotasIn = (namespace: string | undefined) =>
    quotas
      .list()
      .filter((q) => q.metadata.namespace === namespace)
      .map((q) => objectKey(q.metadata));
  const onVm: EventHandler<VirtualMachine> = (change) => {
    if (change.type === 'update' && JSON.stringify(vmUsage(change.old)) === JSON.stringify(vmUsage(change.object))) return [];
    return quotasIn(change.object.metadata.namespace);
  };
  return controller.watch(quotas, enqueueObject()).watch(vms, onVm);
}
