/**
 * The seam for leader election. A controller manager asks its elector before starting a
 * controller and stops that controller when leadership is lost. Two electors: AlwaysLeader
 * (below) leads at once and forever, which is right for a single controller-manager;
 * LeaseElector (lease-elector.ts) competes for a Lease object, for several of them.
 */
export interface LeaderElector {
  /**
   * Waits until this process leads (or `signal` aborts, rejecting). Answers a signal that aborts
   * when leadership is lost, after which the caller must stop reconciling at once.
   */
  acquire(signal: AbortSignal): Promise<AbortSignal>;
  /** Gives leadership up (on a clean stop), so a standby can take over without waiting for expiry. */
  release(): Promise<void>;
}

/** Leads immediately and never loses: one controller-manager, no election (no --leader-elect). */
export class AlwaysLeader implements LeaderElector {
  private readonly never = new AbortController();

  async acquire(signal: AbortSignal): Promise<AbortSignal> {
    signal.throwIfAborted();
    return this.never.signal;
  }

  async release(): Promise<void> {}
}
