/** With spec.wait: the VirtualMachines a pass applied that are not Running yet (and why, as far as their status says). */
import { ApiError, type VirtualMachine } from '@shoal/api';
import type { PlannedObject, ShoalClient } from '@shoal/client';

export async function vmsNotRunning(reader: ShoalClient, objects: readonly PlannedObject[], signal: AbortSignal): Promise<string[]> {
  const waiting: string[] = [];
  for (const o of objects) {
    if (o.kind.kind !== 'VirtualMachine') continue;
    const name = o.object.metadata.name!;
    try {
      const vm = await reader.get<VirtualMachine>('virtualmachine', name, { namespace: o.object.metadata.namespace, signal });
      if (vm.status?.phase !== 'Running') waiting.push(`${name} (${vm.status?.phase ?? 'Pending'})`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) waiting.push(`${name} (gone)`);
      else throw err;
    }
  }
  return waiting;
}
