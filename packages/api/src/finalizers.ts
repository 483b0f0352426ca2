/**
 * Finalizers Shoal's own components put on objects: each holds an object's deletion until its
 * owner has cleaned up, and only that owner removes it.
 */

/**
 * On a VirtualMachine from the moment it is bound (the binding subresource adds it): its node
 * agent removes it once the guest is stopped, so a delete never completes while a VM runs.
 */
export const AGENT_FINALIZER = 'shoal.dev/agent';

/** On every Namespace: removed once the namespace's contents are deleted. */
export const NAMESPACE_FINALIZER = 'shoal.dev/namespace-contents';
