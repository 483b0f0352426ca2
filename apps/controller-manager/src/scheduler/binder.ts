/**
 * Binds in the background, as kube-scheduler's binding cycle does: a worker decides, reserves
 * the room (assume) and hands the bind to the Binder, then moves on to the next VM instead of
 * waiting a round trip to the apiserver and etcd. At most `maxInFlight` binds run at once, in at
 * most two requests (bind-batcher.ts: the binds decided while one request is under way leave
 * together in the next); a worker that would exceed that waits for a slot, so a slow apiserver
 * slows decisions down instead of piling up requests.
 *
 * A bind's outcome is settled here: success confirms the assumption; a 4xx means it did not
 * happen, so the room is freed; anything else (5xx, a broken connection) may or may not have
 * happened, so the room stays reserved for reconcile to ask the server which it was.
 *
 * A failed bind (a 404 aside: the VM is gone) is retried through the controller's queue with
 * per-VM exponential backoff that lasts until a bind of that VM succeeds or it needs none:
 *
 *   a VM's first bind    in the background: its reconcile already returned {}, so the queue
 *     fails              has forgotten the key → requeue(key) (addRateLimited): the first
 *                        retry, after 5 ms
 *   its next binds       in the worker (bindNow): reconcile awaits the outcome, so
 *     fail               → it throws, and the queue backs off again (10 ms, 20 ms … 1000 s);
 *                          a reconcile that throws is not forgotten, so the count goes on
 *     succeed            → it returns {}: the queue forgets, and so does the Binder
 *   the VM gone, being deleted or bound → reconcile calls settled(key) and returns {}
 *
 * Binding in the background only while a VM's binds succeed keeps the fast path fast and lets
 * the reconcile's own outcome — the controller's one contract — carry the backoff of one that
 * keeps failing, instead of a second backoff kept beside the queue's.
 *
 * Every failure is logged at warn with how many times in a row that VM's bind has failed
 * (a 409 Conflict at debug: the VM changed since the decision, the optimistic loop doing its
 * job) and counted in shoal_scheduler_bind_failures_total{reason}.
 */
import { ApiError, objectKey, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import type { ClusterState } from '@shoal/scheduler';
import type { Logger } from 'pino';
import type { SchedulerMetrics } from './metrics.js';
import { BindBatcher } from './bind-batcher.js';

/** Bind requests under way at once: one being answered while the next fills. */
const BIND_REQUESTS_IN_FLIGHT = 2;

export interface BinderOptions {
  client: ShoalClient;
  state: ClusterState;
  recorder: EventRecorder;
  log: Logger;
  metrics?: SchedulerMetrics;
  /** Queue the VM again with backoff (the controller queue's addRateLimited) after a background bind failed. */
  requeue(key: string): void;
  maxInFlight: number;
}

export class Binder {
  private readonly inFlight = new Set<string>();
  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** Binds failed in a row, per VM key, since its last successful bind (or since it needed none). */
  private readonly failures = new Map<string, number>();

  private readonly batcher: BindBatcher;

  constructor(private readonly o: BinderOptions) {
    this.batcher = new BindBatcher(o.client, {
      maxRequests: BIND_REQUESTS_IN_FLIGHT,
      maxBatch: Math.max(1, Math.ceil(o.maxInFlight / BIND_REQUESTS_IN_FLIGHT)),
    });
  }

  /** Whether a bind of this VM is under way (its outcome is not known yet). */
  binding(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Whether this VM's last bind failed: its next one runs in the worker (bindNow), so the queue backs it off. */
  failedBefore(key: string): boolean {
    return this.failures.has(key);
  }

  /** The VM needs no bind any more (gone, being deleted, bound): its failures are history. */
  settled(key: string): void {
    this.failures.delete(key);
  }

  /** Starts binding `vm` to `nodeName`; resolves once the bind is under way, not when it is done. */
  async start(vm: VirtualMachine, nodeName: string): Promise<void> {
    const key = objectKey(vm.metadata);
    const release = await this.slot(key);
    void this.attempt(vm, nodeName)
      .then((failure) => {
        if (failure) this.o.requeue(key);
      })
      .finally(release);
  }

  /** Binds `vm` to `nodeName` and resolves when it is bound (or gone); throws the failure otherwise. */
  async bindNow(vm: VirtualMachine, nodeName: string): Promise<void> {
    const release = await this.slot(objectKey(vm.metadata));
    try {
      const failure = await this.attempt(vm, nodeName);
      if (failure) throw failure;
    } finally {
      release();
    }
  }

  /** Resolves when no bind is under way (for a clean stop). */
  idle(): Promise<void> {
    return this.inFlight.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for one of the maxInFlight slots and takes it for `key`; answers how to give it back. */
  private async slot(key: string): Promise<() => void> {
    while (this.inFlight.size >= this.o.maxInFlight) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.inFlight.add(key);
    return () => {
      this.inFlight.delete(key);
      this.slotWaiters.shift()?.();
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    };
  }

  /** One bind, its outcome settled; answers the failure to retry, or undefined when there is nothing to retry. */
  private async attempt(vm: VirtualMachine, nodeName: string): Promise<unknown> {
    const { state, metrics, log } = this.o;
    const key = objectKey(vm.metadata);
    try {
      // A bind: spec.nodeName and the Scheduled status in one write, only on the version the
      // decision saw; sent with the other binds decided meanwhile (bind-batcher.ts).
      await this.batcher.bind({ namespace: vm.metadata.namespace ?? '', name: vm.metadata.name!, nodeName, resourceVersion: vm.metadata.resourceVersion });
    } catch (err) {
      const api = err instanceof ApiError ? err : undefined;
      if (api && api.code < 500) state.forget(key);
      if (api?.code === 404) {
        this.failures.delete(key);
        return undefined;
      }
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      metrics?.attempt(api?.code === 409 ? 'conflict' : 'error');
      metrics?.bindFailed(api?.reason ?? 'ConnectionError');
      // 409: the VM changed since the informer showed it; it is judged again on the newer version.
      const level = api?.code === 409 ? 'debug' : 'warn';
      log[level]({ vm: key, node: nodeName, failures, code: api?.code, err: (err as Error).message }, 'bind failed; retrying with backoff');
      return err;
    }
    this.failures.delete(key);
    state.confirm(key);
    metrics?.attempt('scheduled');
    this.o.recorder.event(vm, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${nodeName}`);
    return undefined;
  }
}
