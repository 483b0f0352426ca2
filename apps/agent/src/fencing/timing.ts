/**
 * The node's fencing timing: how long its Lease is valid, and how long the agent may go without
 * a successful renewal before its VMs stop (the fence timeout). Both are published on the Node
 * (status.fencing) because the health controller needs them to know when a silent node's VMs
 * are surely stopped: only after lease expiry + fence timeout may they run elsewhere.
 */

export interface FencingTiming {
  leaseDurationSeconds: number;
  fenceTimeoutSeconds: number;
}

/**
 * Short, so that a dead node's VMs run elsewhere quickly: renewed every second (a quarter of
 * it), declared expired after 4 s. Schedulers with thousands of nodes raise it (bench/ uses 40).
 */
export const DEFAULT_LEASE_DURATION_SECONDS = 4;
/** The lease is renewed this many times per duration, so one or two lost renewals do not expire it. */
export const RENEWALS_PER_LEASE = 4;
/** The Lease stores whole seconds, and a quarter of the duration must leave room for one request. */
export const MIN_LEASE_DURATION_SECONDS = 2;

/**
 * The fence timeout when none is given: one and a half lease durations (6 s with the default
 * lease), so it follows a raised --lease-duration instead of contradicting it.
 */
export function defaultFenceTimeoutSeconds(leaseDurationSeconds: number): number {
  return Math.ceil(leaseDurationSeconds * 1.5);
}

/** Why these flags cannot be used (a message naming them), or undefined when they can. */
export function fencingTimingError(t: FencingTiming): string | undefined {
  const { leaseDurationSeconds: lease, fenceTimeoutSeconds: fence } = t;
  if (!(Number.isInteger(lease) && lease >= MIN_LEASE_DURATION_SECONDS))
    return `--lease-duration ${lease}: must be a whole number of seconds, at least ${MIN_LEASE_DURATION_SECONDS} (the Lease stores whole seconds and is renewed every quarter of it)`;
  if (!(Number.isInteger(fence) && fence > 0))
    return `--fence-timeout ${fence}: must be a whole number of seconds greater than 0 (fencing cannot be turned off: it is what lets the health controller move a dead node's VMs without ever running one twice)`;
  if (fence < lease)
    return (
      `--fence-timeout ${fence} is shorter than --lease-duration ${lease}: the VMs would be stopped while the node's lease is still valid, ` +
      `i.e. for a renewal gap the control plane does not even count as a failure; use at least ${lease}`
    );
  return undefined;
}
