/**
 * Binds in the background, as kube-scheduler's binding cycle does: a worker decides, reserves
 * the room (assume) and hands the bind to the Binder, then moves on to the next VM instead of
 * waiting a round trip to the apiserver and etcd. At most `maxInFlight` binds run at once; a
 * worker that would exceed that waits for a slot, so a slow apiserver slows decisions down
 * instead of piling up requests.
 *
 * A bind's outcome is settled here: success confirms the assumption; a 4xx means it did not
 * happen, so the room is freed and the VM is queued again; anything else (5xx, a broken
 * connection) may or may not have happened, so the room stays reserved and the VM is queued
 * again for reconcile to ask the server which it was.
 */
import { ApiError, objectKey, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import type { ClusterState } from '@shoal/scheduler';
import type { Logger } from 'pino';
import type { SchedulerMetrics } from './metrics.js';

export interface BinderOptions {
  client: ShoalClient;
  state: ClusterState;
  recorder: EventRecorder;
  log: Logger;
  metrics?: SchedulerMetrics;
  /** Queue the VM again (with backoff) after a bind that failed. */
  requeue(key: string): void;
  maxInFlight: number;
}

export class Binder {
  private readonly inFlight = new Set<string>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly o: BinderOptions) {}

  /** Whether a bind of this VM is under way (its outcome is not known yet). */
  binding(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Starts binding `vm` to `nodeName`; resolves once the bind is under way, not when it is done. */
  async start(vm: VirtualMachine, nodeName: string): Promise<void> {
    while (this.inFlight.size >= this.o.maxInFlight) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    const key = objectKey(vm.metadata);
    this.inFlight.add(key);
    void this.bind(vm, nodeName).finally(() => {
      this.inFlight.delete(key);
      this.slotWaiters.shift()?.();
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  /** Resolves when no bind is under way (for a clean stop). */
  idle(): Promise<void> {
    return this.inFlight.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async bind(vm: VirtualMachine, nodeName: string): Promise<void> {
    const { client, state, metrics } = this.o;
    const key = objectKey(vm.metadata);
    try {
      // The binding subresource: spec.nodeName and the Scheduled status in one write, only on
      // the version the decision saw.
      await client.bind(vm.metadata.namespace ?? '', vm.metadata.name!, nodeName, { resourceVersion: vm.metadata.resourceVersion });
    } catch (err) {
      const definite = err instanceof ApiError && err.code < 500;
      if (definite) state.forget(key);
      if (err instanceof ApiError && err.code === 404) return;
      metrics?.attempt(err instanceof ApiError && err.code === 409 ? 'conflict' : 'error');
      // 409: the VM changed since the informer showed it; it is judged again on the newer version.
      this.o.log.debug({ vm: key, node: nodeName, err: (err as Error).message }, 'bind failed; queued again');
      this.o.requeue(key);
      return;
    }
    state.confirm(key);
    metrics?.attempt('scheduled');
    this.o.recorder.event(vm, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${nodeName}`);
  }
}
