/**
 * Namespaces: a new one is Active and carries the finalizer through which its contents are
 * deleted with it (by the controller-manager's namespace controller); deleting one marks it Terminating until they are; the
 * built-in namespaces every cluster has may not be deleted at all.
 */
import { ApiError, BUILTIN_NAMESPACES, NAMESPACE_FINALIZER, type Namespace } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';

export const namespaceStrategy: KindStrategy = {
  prepareForCreate(object) {
    const ns = object as Namespace;
    // No controller owns a namespace's status: the server sets it, here and on deletion.
    ns.status = { phase: 'Active' };
    const finalizers = ns.metadata.finalizers ?? [];
    if (!finalizers.includes(NAMESPACE_FINALIZER)) ns.metadata.finalizers = [...finalizers, NAMESPACE_FINALIZER];
  },

  refuseDelete(kind, name) {
    if (!BUILTIN_NAMESPACES.includes(name)) return undefined;
    return new ApiError(403, 'Forbidden', `${kind.plural} "${name}" is forbidden: this namespace may not be deleted`, { name, kind: kind.plural });
  },

  prepareForDelete(object) {
    (object as Namespace).status = { phase: 'Terminating' };
  },
};
