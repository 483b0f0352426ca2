/**
 * The namespace an object from a manifest goes to. A manifest's own namespace wins over the
 * default; but when the user typed -n and the manifest says otherwise, one of them is a mistake,
 * so (like kubectl) that object is refused rather than silently sent elsewhere.
 */
import type { KindInfo, KubeObject } from '@shoal/api';

export class NamespaceMismatchError extends Error {
  constructor(objectNamespace: string, flagNamespace: string) {
    super(
      `the namespace from the provided object "${objectNamespace}" does not match the namespace "${flagNamespace}". You must pass '--namespace=${objectNamespace}' to perform this operation.`,
    );
    this.name = 'NamespaceMismatchError';
  }
}

/** Undefined for cluster-scoped kinds. `explicit` is the -n flag as typed, `fallback` the resolved default. */
export function manifestNamespace(kind: KindInfo, object: KubeObject, explicit: string | undefined, fallback: string): string | undefined {
  if (!kind.namespaced) return undefined;
  const own = object.metadata.namespace;
  if (own && explicit && own !== explicit) throw new NamespaceMismatchError(own, explicit);
  return own || explicit || fallback;
}
