/**
 * The group whose members may read every component's /metrics, as Kubernetes' `system:monitoring`:
 * on the apiserver the bootstrap ClusterRole of that name (nonResourceURLs /metrics, get) is bound
 * to it, and node agents admit to their /metrics a client certificate with it as an O
 * (--metrics-allowed-groups). `shoal up` gives its `prometheus` user this group, in the token file
 * and in a client certificate, so one Prometheus scrapes the whole cluster with nothing more.
 */
export const MONITORING_GROUP = 'system:monitoring';
/** The user `shoal up` issues monitoring credentials to. */
export const MONITORING_USER = 'prometheus';
