/** Resolves any name a user may type for a kind (`vm`, `virtualmachines`, `VirtualMachine`). */
import { kinds, type KindInfo } from '@shoal/api';

export class UnknownKindError extends Error {
  constructor(readonly kindName: string) {
    super(`the server doesn't have a resource type "${kindName}"`);
    this.name = 'UnknownKindError';
  }
}

export function resolveKind(kind: string | KindInfo): KindInfo {
  if (typeof kind !== 'string') return kind;
  const info = kinds().find(kind);
  if (!info) throw new UnknownKindError(kind);
  return info;
}
