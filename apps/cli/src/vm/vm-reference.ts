/**
 * How the VM commands name their VM, as kubectl names a pod: `vm NAME` or `vm/NAME`
 * (any name of the kind: vm, vms, virtualmachine, VirtualMachine), or for `logs` a bare NAME.
 */
import { resolveKind, UnknownKindError } from '@shoal/client';
import { UsageError } from '../cli-errors.js';

function checkKind(kind: string, command: string): void {
  let resolved;
  try {
    resolved = resolveKind(kind);
  } catch (err) {
    if (err instanceof UnknownKindError) throw new UsageError(err.message);
    throw err;
  }
  if (resolved.kind !== 'VirtualMachine') throw new UsageError(`${command} works on virtual machines only (vm NAME), not ${resolved.plural}`);
}

function checkName(name: string, command: string): string {
  if (!name) throw new UsageError(`${command}: give the name of a virtual machine`);
  return name;
}

/** `KIND NAME` or `KIND/NAME`, where KIND must be the VirtualMachine kind; the name. */
export function vmNameFromKindAndName(command: string, kindOrRef: string, name: string | undefined): string {
  const slash = kindOrRef.indexOf('/');
  if (slash >= 0) {
    if (name !== undefined) throw new UsageError(`${command}: give either ${kindOrRef} or a kind and a name, not both`);
    checkKind(kindOrRef.slice(0, slash), command);
    return checkName(kindOrRef.slice(slash + 1), command);
  }
  checkKind(kindOrRef, command);
  return checkName(name ?? '', command);
}

/** `NAME` or `KIND/NAME`; the name. */
export function vmNameFromReference(command: string, ref: string): string {
  const slash = ref.indexOf('/');
  if (slash < 0) return checkName(ref, command);
  checkKind(ref.slice(0, slash), command);
  return checkName(ref.slice(slash + 1), command);
}
