/**
 * Well-known label keys. Node agents set the topology labels from their flags; the scheduler's
 * affinity, anti-affinity and spread rules name them as topologyKey.
 */

/** The node's own name: the smallest failure domain. */
export const HOSTNAME_LABEL = 'shoal.dev/hostname';
export const DATACENTER_LABEL = 'topology.shoal.dev/datacenter';
export const ZONE_LABEL = 'topology.shoal.dev/zone';
export const RACK_LABEL = 'topology.shoal.dev/rack';

/** On the RBAC objects the apiserver creates at start (the bootstrap policy), as Kubernetes' `kubernetes.io/bootstrapping`. */
export const BOOTSTRAP_LABEL = 'shoal.dev/bootstrapping';
