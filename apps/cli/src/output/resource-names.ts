/** How kubectl names a resource in its messages: `virtualmachine.shoal.dev/web`, `virtualmachine.shoal.dev "web"`. */
import type { KindInfo } from '@shoal/api';

export function qualifiedKind(kind: KindInfo): string {
  return `${kind.singular}.${kind.group}`;
}

export function slashName(kind: KindInfo, name: string): string {
  return `${qualifiedKind(kind)}/${name}`;
}

export function quotedName(kind: KindInfo, name: string): string {
  return `${qualifiedKind(kind)} "${name}"`;
}
