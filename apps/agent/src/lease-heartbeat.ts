/**
 * The node's heartbeat: a Lease renewed every few seconds. Each successful renewal also touches
 * a local file, which the VM supervisors watch as their dead man's switch.
 */
import { utimes, writeFile } from 'node:fs/promises';
import { ApiError } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';

export const NODE_LEASE_NAMESPACE = 'shoal-node-lease';

export interface HeartbeatOptions {
  client: ShoalClient;
  nodeName: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  heartbeatFile: string;
  log: { warn(obj: object, msg: string): void };
}

export class LeaseHeartbeat {
  private timer?: NodeJS.Timeout;
  lastRenewal?: Date;

  constructor(private readonly o: HeartbeatOptions) {}

  async start(): Promise<void> {
    await writeFile(this.o.heartbeatFile, '');
    await this.renew();
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.renew()
        .catch((err) => this.o.log.warn({ err: (err as Error).message }, 'lease renewal failed'))
        .finally(() => this.schedule());
    }, this.o.renewIntervalMs);
  }

  async renew(): Promise<void> {
    const now = new Date();
    const spec = { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: now.toISOString() };
    try {
      await this.o.client.patch('lease', this.o.nodeName, { spec }, { namespace: NODE_LEASE_NAMESPACE, type: 'merge' });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      await this.o.client.create('lease', { metadata: { name: this.o.nodeName }, spec: { ...spec, acquireTime: now.toISOString() } }, { namespace: NODE_LEASE_NAMESPACE });
    }
    this.lastRenewal = now;
    await utimes(this.o.heartbeatFile, now, now);
  }
}
