/** Namespaces every cluster has: created by the apiserver at start, and never deletable. */

/** Where objects go when a request names no namespace. */
export const DEFAULT_NAMESPACE = 'default';
/** Shoal's own objects: the controllers' leader-election Leases. */
export const SYSTEM_NAMESPACE = 'shoal-system';
/** One Lease per node, renewed by its agent: the node's heartbeat. */
export const NODE_LEASE_NAMESPACE = 'shoal-node-lease';

export const BUILTIN_NAMESPACES: readonly string[] = [DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, NODE_LEASE_NAMESPACE];
