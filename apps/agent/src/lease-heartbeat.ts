/**
 * The node's heartbeat: a Lease renewed every few seconds. Each SUCCESSFUL renewal — the
 * apiserver answered 2xx — also touches a local file, which the VM supervisors watch as their
 * dead man's switch, and tells the FenceClock. A failed renewal (an error answer, no answer,
 * no answer in time) touches nothing: the fence clock is the time since the last success.
 */
import { utimes, writeFile } from 'node:fs/promises';
import { ApiError, NODE_LEASE_NAMESPACE } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { FenceClock } from './fencing/fence-clock.js';

export interface HeartbeatOptions {
  client: ShoalClient;
  nodeName: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  /** The file the VM supervisors watch; none where no supervisor runs (the simulated runtime). */
  heartbeatFile?: string;
  clock: FenceClock;
  /** After each successful renewal; `endedStale` when it ended a stale period (see FenceClock). */
  onRenewed?: (endedStale: boolean) => void;
  log: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void };
}

export class LeaseHeartbeat {
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: HeartbeatOptions) {}

  /** Renews once (throwing if that fails), then keeps renewing in the background. */
  async start(): Promise<void> {
    await this.renew();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.renew()
        .catch((err) => this.o.log.warn({ err: (err as Error).message }, 'lease renewal failed'))
        .finally(() => this.schedule());
    }, this.o.renewIntervalMs);
  }

  async renew(): Promise<void> {
    const started = new Date();
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: started.toISOString() };
    // A renewal that has not succeeded within a lease duration is worth nothing (the lease has
    // lapsed by then), and one hanging on a frozen apiserver must not hold up the next attempt.
    const signal = AbortSignal.timeout(this.o.leaseDurationSeconds * 1000);
    try {
      await this.o.client.patch('lease', this.o.nodeName, { spec }, { namespace: NODE_LEASE_NAMESPACE, type: 'merge', signal, discardAnswer: true });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      await this.o.client.create(
        'lease',
        { metadata: { name: this.o.nodeName }, spec: { ...spec, acquireTime: started.toISOString() } },
        { namespace: NODE_LEASE_NAMESPACE, signal },
      );
    }
    // The file's mtime is the renewal's renewTime, not the moment the answer came: the earlier
    // instant, which is what the health controller counts from too. 'a' creates it if missing
    // without truncating anything.
    if (this.o.heartbeatFile) {
      await writeFile(this.o.heartbeatFile, '', { flag: 'a' });
      await utimes(this.o.heartbeatFile, started, started);
    }
    const endedStale = this.o.clock.renewed(started.getTime(), Date.now());
    this.o.log.debug?.({ renewTime: spec.renewTime }, 'lease renewed');
    this.o.onRenewed?.(endedStale);
  }
}
