/**
 * What the agent knows about its own lease, as numbers (milliseconds; pure, so tested on plain
 * values). It answers the questions fencing asks:
 *
 *   fresh      the last successful renewal is younger than the lease duration: the control
 *              plane still counts this node alive, so VMs may start here
 *   fenced     the last successful renewal is older than the fence timeout: every VM here must
 *              be stopped (the health controller may already be moving them elsewhere)
 *   epoch      counts the stale periods this agent lived through: a successful renewal that
 *              comes more than the fence timeout after the previous one ends one (the agent was
 *              frozen, partitioned, or the apiserver was down). Whatever the agent cached before
 *              may be out of date — a VM may have been bound elsewhere meanwhile — so nothing
 *              starts until a relist that began after that renewal has finished (relisted()).
 *
 * Times are those of the renewal's request: `startedAt` (taken before it is sent) is what the
 * Lease's renewTime and the heartbeat file's mtime say, so the agent, the VM supervisors and the
 * health controller all count from the same, earliest, instant.
 */
export class FenceClock {
  private last?: number;
  private stalePeriods = 0;
  private relistedEpoch = 0;

  constructor(
    readonly leaseDurationMs: number,
    /** Changed while the agent runs by a reload of its config file, in the order fence-timeout-change.ts gives. */
    public fenceTimeoutMs: number,
  ) {}

  /** When the last successful renewal was sent, if there was one. */
  get lastRenewal(): number | undefined {
    return this.last;
  }

  get epoch(): number {
    return this.stalePeriods;
  }

  /**
   * A renewal sent at `startedAt` succeeded at `completedAt`. Answers true when it ended a stale
   * period. Measured to the completion: until then the heartbeat file was not touched, so a VM
   * supervisor may have fenced at any instant up to it.
   */
  renewed(startedAt: number, completedAt: number): boolean {
    const endedStale = this.last !== undefined && completedAt - this.last > this.fenceTimeoutMs;
    if (endedStale) this.stalePeriods++;
    this.last = Math.max(this.last ?? startedAt, startedAt);
    return endedStale;
  }

  fresh(now: number): boolean {
    return this.last !== undefined && now - this.last < this.leaseDurationMs;
  }

  /** Before the first renewal nothing runs that could need fencing, so this is false then. */
  fenced(now: number): boolean {
    return this.last !== undefined && now - this.last > this.fenceTimeoutMs;
  }

  needsRelist(): boolean {
    return this.relistedEpoch < this.stalePeriods;
  }

  /** A relist that began when epoch was `epoch` has finished. */
  relisted(epoch: number): void {
    this.relistedEpoch = Math.max(this.relistedEpoch, epoch);
  }

  /**
   * May the agent act on what it has cached (start a VM, write status)? Only while its lease is
   * fresh and its cache was relisted since the last stale period.
   */
  mayAct(now: number): boolean {
    return this.fresh(now) && !this.needsRelist();
  }
}
