/**
 * The cluster's timeouts, short so that faults resolve within seconds, in one place because the
 * fault schedule and the invariants reason with them.
 *
 * Agents: lease 3 s (renewed every 0.75 s), fence timeout 5 s. A node silent for lease + fence =
 * 8 s has its VMs moved; shorter than the defaults (4 + 6) but not so short that an event loop
 * held up by two cores' worth of TCG boots fences a healthy node all the time.
 * Controller-managers: leader lease 4 s, renew deadline 3 s, retry 1 s (as e2e/leader-election).
 */
export const AGENT_LEASE_SECONDS = 3;
export const AGENT_FENCE_SECONDS = 5;
/** A guest gets this long to power off before it is killed: busybox guests do not always act on the ACPI button. */
export const AGENT_STOP_GRACE_SECONDS = 3;
/**
 * A guest that has not booted after this long is killed and booted again by its agent: a boot
 * that hangs (rare under TCG on a loaded host) must not hold the soak's convergence for ever.
 */
export const AGENT_BOOT_TIMEOUT_SECONDS = 60;
export const LEADER_LEASE_SECONDS = 4;
export const LEADER_RENEW_DEADLINE_SECONDS = 3;
export const LEADER_RETRY_SECONDS = 1;
/** When a silent node's VMs may run elsewhere: lease expiry + fence timeout. */
export const NODE_LOSS_MS = (AGENT_LEASE_SECONDS + AGENT_FENCE_SECONDS) * 1000;
