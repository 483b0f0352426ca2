/**
 * The agent's in-process fence: a timer that stops every instance of its runtime when the last
 * successful lease renewal is older than the fence timeout. For the simulated runtime it is the
 * only fence; for QEMU it backs up the per-VM supervisors (which also fence while the agent is
 * frozen, which this timer cannot). It also counts the fencings (fencing-metric.ts): once per stale
 * period, at the first look past the fence timeout — for a frozen agent, when it thaws.
 */
import type { RuntimeDriver } from '../runtime/driver.js';
import type { FenceClock } from './fence-clock.js';
import type { FencingCount } from './fencing-metric.js';

/** How often the clock is looked at: the fence fires at most this late. */
export const FENCE_CHECK_INTERVAL_MS = 500;

export interface FenceMonitorOptions {
  clock: FenceClock;
  driver: Pick<RuntimeDriver, 'fence' | 'list'>;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  now?: () => number;
  /** Told of each fencing, once per stale period. */
  fencings?: FencingCount;
}

export class FenceMonitor {
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  /** The last renewal before the stale period last counted: a period is counted once, however many looks it takes. */
  private counted?: number;

  constructor(private readonly o: FenceMonitorOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), FENCE_CHECK_INTERVAL_MS);
    // Never what keeps the process alive: stopping the agent clears it anyway.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }

  /** Fences if it is time to and something still runs; one pass at a time. */
  check(): Promise<void> {
    if (this.checking) return this.checking;
    const { clock, driver, log } = this.o;
    const now = (this.o.now ?? Date.now)();
    if (!clock.fenced(now)) return Promise.resolve();
    if (this.counted !== clock.lastRenewal) {
      this.counted = clock.lastRenewal;
      this.o.fencings?.inc();
    }
    if (!driver.list().some((i) => i.phase !== 'exited')) return Promise.resolve();
    const age = now - clock.lastRenewal!;
    log.warn(
      { lastRenewalAgeMs: age, fenceTimeoutMs: clock.fenceTimeoutMs },
      'no successful lease renewal for longer than the fence timeout: stopping every VM on this node',
    );
    this.checking = driver
      .fence()
      .catch((err) => log.error({ err: (err as Error).message }, 'fencing failed; trying again'))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }
}
