/**
 * reconcile(ctx, "namespace/name") for the resourcequota controller (STYLE.md 1–3): keeps a
 * ResourceQuota's status.used equal to what its namespace's VirtualMachines use (status.ts).
 *
 *   quota gone                      → nothing to do
 *   status.used already right       → nothing to write
 *   otherwise                       → merge-patch /status, pinned to the quota's resourceVersion
 *                                     (a quota whose limits changed meanwhile is computed again:
 *                                     409 → retry with backoff, and its update requeues it anyway)
 *
 * Admission never reads status.used (it sums the VMs itself at one revision), so this is for
 * people and dashboards: eventually consistent, shortly after each change.
 */
import { ignoreNotFound, type ResourceQuota, type VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { quotaUsed, usedPatch } from './status.js';

export interface ResourceQuotaContext {
  client: ShoalClient;
  quotas: Pick<Informer<ResourceQuota>, 'get'>;
  vms: Pick<Informer<VirtualMachine>, 'list'>;
  log: Logger;
}

export async function reconcile(ctx: ResourceQuotaContext, key: string): Promise<Result> {
  const quota = ctx.quotas.get(key);
  if (!quota) return {};
  const want = quotaUsed(quota, ctx.vms.list());
  const used = usedPatch(quota.status?.used, want);
  if (!used) return {};
  const { name, namespace, resourceVersion } = quota.metadata;
  await ignoreNotFound(
    ctx.client.patch('resourcequota', name!, { metadata: { resourceVersion }, status: { used } }, { type: 'merge', status: true, namespace }),
  );
  ctx.log.debug({ quota: key, used: want }, 'resource quota status updated');
  return {};
}
