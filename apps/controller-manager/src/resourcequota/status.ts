/**
 * A ResourceQuota's status.used, computed (STYLE.md 3): what its namespace's VMs use, for the
 * resources its spec.hard limits, summed as quota admission sums them (@shoal/api's
 * quota-usage.ts), and the merge patch that brings the stored status there.
 */
import { namespaceUsage, QUOTA_RESOURCES, usedFor, type QuotaResource, type QuotaResources, type ResourceQuota, type VirtualMachine } from '@shoal/api';

/** What status.used should say now. */
export function quotaUsed(quota: ResourceQuota, vms: Iterable<VirtualMachine>): QuotaResources {
  return usedFor(quota, namespaceUsage(vms, quota.metadata.namespace!));
}

/**
 * The merge patch of status.used from `have` to `want`: every resource set, those no longer
 * limited removed (null); undefined when they are equal, so nothing is written.
 */
export function usedPatch(have: QuotaResources | undefined, want: QuotaResources): Record<QuotaResource, number | null> | undefined {
  if (QUOTA_RESOURCES.every((r) => have?.[r] === want[r])) return undefined;
  const patch = {} as Record<QuotaResource, number | null>;
  for (const r of QUOTA_RESOURCES) patch[r] = want[r] ?? null;
  return patch;
}
