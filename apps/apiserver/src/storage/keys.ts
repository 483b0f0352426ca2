/** Where objects live in etcd: `/registry/shoal.dev/{plural}/{namespace}/{name}` (cluster-scoped: no namespace segment). */
import type { KindInfo } from '@shoal/api';

export const REGISTRY_PREFIX = '/registry/';

export function kindPrefix(kind: KindInfo): string {
  return `${REGISTRY_PREFIX}${kind.group}/${kind.plural}/`;
}

/** The prefix that holds one namespace's objects of a kind, or all of them when namespace is empty. */
export function listPrefix(kind: KindInfo, namespace?: string): string {
  return kind.namespaced && namespace ? `${kindPrefix(kind)}${namespace}/` : kindPrefix(kind);
}

export function objectKeyPath(kind: KindInfo, namespace: string | undefined, name: string): string {
  return kind.namespaced ? `${kindPrefix(kind)}${namespace}/${name}` : `${kindPrefix(kind)}${name}`;
}

/** The smallest key greater than every key with this prefix (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
