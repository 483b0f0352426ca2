/**
 * What a node may change in a VirtualMachine bound to it (Kubernetes' NodeRestriction, for
 * VMs): its status, and of the object itself only what running the VM takes —
 *   - add or remove its own finalizer `shoal.dev/agent` (and no other),
 *   - unbind the VM when an eviction is done: spec.nodeName → null and the eviction request
 *     annotation → null.
 * Nothing else: not the VM's command, image, resources or placement, not other annotations or
 * labels, not another node's name. Only merge patches are judged (what agents send); a node's
 * PUT or JSON patch of a VM is refused outright, since its effect cannot be read off the body.
 */
import { AGENT_FINALIZER, EVICTION_REQUESTED_ANNOTATION, type KubeObject } from '@shoal/api';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Why a node may not send this merge patch of `current`, or undefined when it may. */
export function nodeVmPatchRefusal(patch: unknown, current: KubeObject | undefined): string | undefined {
  if (!isObject(patch)) return 'a node may change a virtualmachine only with a merge patch object';
  for (const key of Object.keys(patch))
    if (key !== 'metadata' && key !== 'spec') return `a node may not change ${key} of a virtualmachine (use the status subresource for status)`;
  const meta = patch.metadata;
  if (meta !== undefined) {
    if (!isObject(meta)) return 'metadata must be an object';
    for (const key of Object.keys(meta))
      if (!['resourceVersion', 'finalizers', 'annotations'].includes(key)) return `a node may not change metadata.${key} of a virtualmachine`;
    if (meta.annotations !== undefined) {
      if (!isObject(meta.annotations)) return 'metadata.annotations must be an object';
      for (const [k, v] of Object.entries(meta.annotations))
        if (k !== EVICTION_REQUESTED_ANNOTATION || v !== null) return `a node may only remove the ${EVICTION_REQUESTED_ANNOTATION} annotation, not change ${k}`;
    }
    if (meta.finalizers !== undefined) {
      const next = meta.finalizers === null ? [] : meta.finalizers;
      if (!Array.isArray(next) || !next.every((f) => typeof f === 'string')) return 'metadata.finalizers must be a list of strings';
      const before = new Set(current?.metadata.finalizers ?? []);
      const after = new Set(next as string[]);
      for (const f of new Set([...before, ...after]))
        if (before.has(f) !== after.has(f) && f !== AGENT_FINALIZER) return `a node may add or remove only its own finalizer ${AGENT_FINALIZER}, not ${f}`;
    }
  }
  const spec = patch.spec;
  if (spec !== undefined) {
    if (!isObject(spec)) return 'spec must be an object';
    for (const [k, v] of Object.entries(spec))
      if (k !== 'nodeName' || v !== null) return `a node may only unbind a virtualmachine (spec.nodeName: null), not change spec.${k}`;
  }
  return undefined;
}
