/**
 * What a namespace's VirtualMachines use against its ResourceQuotas, and whether one more (or
 * a bigger one) fits: pure functions over plain objects. Every VM that exists counts, whatever
 * its phase or deletion state: simple, and never lets a namespace over its limits.
 */
import { ApiError, type KindInfo, type KubeObject, type QuotaResources, type ResourceQuota, type StatusCause, type VirtualMachine, type VmResources } from '@shoal/api';

export const QUOTA_RESOURCES = ['memoryMiB', 'vcpus', 'virtualmachines'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type Usage = Record<QuotaResource, number>;

/** The VM field each limited resource comes from, for the causes of a refusal. */
const FIELD: Record<QuotaResource, string> = {
  vcpus: 'spec.resources.vcpus',
  memoryMiB: 'spec.resources.memoryMiB',
  virtualmachines: 'metadata.name',
};

/** The schema's defaults, for a VM stored before they were applied. */
const DEFAULT_VCPUS = 1;
const DEFAULT_MEMORY_MIB = 256;

export const zeroUsage = (): Usage => ({ memoryMiB: 0, vcpus: 0, virtualmachines: 0 });

export function vmUsage(vm: KubeObject): Usage {
  const r: Partial<VmResources> = (vm as VirtualMachine).spec?.resources ?? {};
  return { vcpus: r.vcpus ?? DEFAULT_VCPUS, memoryMiB: r.memoryMiB ?? DEFAULT_MEMORY_MIB, virtualmachines: 1 };
}

export function addUsage(a: Usage, b: Usage, sign = 1): Usage {
  return { memoryMiB: a.memoryMiB + sign * b.memoryMiB, vcpus: a.vcpus + sign * b.vcpus, virtualmachines: a.virtualmachines + sign * b.virtualmachines };
}

/** Sum over the VMs of one namespace. */
export function namespaceUsage(vms: Iterable<KubeObject>, namespace: string): Usage {
  let used = zeroUsage();
  for (const vm of vms) if (vm.metadata.namespace === namespace) used = addUsage(used, vmUsage(vm));
  return used;
}

export function hardOf(quota: KubeObject): QuotaResources {
  return (quota as ResourceQuota).spec?.hard ?? {};
}

/** status.used as the apiserver keeps it: the resources the quota limits. */
export function usedFor(quota: KubeObject, used: Usage): Partial<Usage> {
  const hard = hardOf(quota);
  const out: Partial<Usage> = {};
  for (const r of QUOTA_RESOURCES) if (hard[r] !== undefined) out[r] = used[r];
  return out;
}

const list = (rs: QuotaResource[], u: Partial<Usage>) => rs.map((r) => `${r}=${u[r]}`).join(',');

/**
 * Refuses a request for `requested` more on top of `used` when it takes any quota over a hard
 * limit, as Kubernetes words it: `exceeded quota: NAME, requested: vcpus=4, used: vcpus=6,
 * limited: vcpus=8` (only the resources that do not fit; the first such quota by name).
 */
export function checkQuotas(vmKind: KindInfo, vmName: string | undefined, quotas: KubeObject[], used: Usage, requested: Usage): void {
  for (const quota of [...quotas].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1))) {
    const hard = hardOf(quota);
    const over = QUOTA_RESOURCES.filter((r) => requested[r] > 0 && hard[r] !== undefined && used[r] + requested[r] > hard[r]!);
    if (!over.length) continue;
    const why = `exceeded quota: ${quota.metadata.name}, requested: ${list(over, requested)}, used: ${list(over, used)}, limited: ${list(over, hard)}`;
    const causes: StatusCause[] = over.map((r) => ({
      type: 'FieldValueForbidden',
      field: FIELD[r],
      message: `${r}: requested ${requested[r]}, ${used[r]} of ${hard[r]} used in resourcequota ${quota.metadata.name}`,
    }));
    throw new ApiError(403, 'Forbidden', `${vmKind.plural}${vmName ? ` "${vmName}"` : ''} is forbidden: ${why}`, {
      name: vmName,
      group: vmKind.group,
      kind: vmKind.plural,
      causes,
    });
  }
}
