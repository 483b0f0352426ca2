/**
 * `describe vm`: the generic description, with the VM's NICs as a table — which Network, the
 * address and prefix the control plane gave, the gateway, the MAC — as people look for them,
 * instead of inside the status YAML.
 */
import type { Event, KindInfo, VirtualMachine } from '@shoal/api';
import { indentedTable, renderDescription } from './render.js';

export function renderVirtualMachine(kind: KindInfo, vm: VirtualMachine, events: Event[] | Error, now = Date.now()): string {
  const { interfaces, ...status } = vm.status ?? {};
  const wanted = vm.spec.networks ?? [];
  if (!interfaces?.length && !wanted.length) return renderDescription(kind, vm, events, now);
  const rows = wanted.map((n, i) => {
    const nic = interfaces?.find((x) => x.network === n.name);
    return [`eth${i}`, n.name, nic ? `${nic.ip}/${nic.prefixLength ?? '?'}` : '<pending>', nic?.gateway ?? '', nic?.mac ?? ''];
  });
  const table = ['Interfaces:', indentedTable([['NIC', 'Network', 'Address', 'Gateway', 'MAC'], ...rows])];
  return renderDescription(kind, { ...vm, status }, events, now, table);
}
