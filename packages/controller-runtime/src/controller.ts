/**
 * A controller: informers feed keys into a rate-limited workqueue, N workers take keys and call
 * `reconcile(key)`, and the Result decides what happens to the key (STYLE.md 1, 4; the loop of
 * controller-runtime's pkg/internal/controller/controller.go).
 *
 *   informer events ──handler──► keys ──► WorkQueue ──► worker × N ──► reconcile(key)
 *                                           ▲                              │
 *            {}                  forget ────┤                              │
 *            { requeueAfterMs }  forget + addAfter ◄───────────────────────┤
 *            throw               addRateLimited (5 ms → 1000 s, 50/s) ◄────┤
 *            throw TerminalError forget, record, no retry ◄────────────────┘
 *
 * The queue never hands one key to two workers at once, so a reconcile never races itself.
 *
 * Wiring reads in one order everywhere (sample-controller's NewController): build what reconcile
 * needs, then the Controller around `reconcile(ctx, key)`, then declare which sources feed which
 * keys (watch, watchKeys). When something reconcile needs must itself requeue keys (the
 * scheduler's Binder after a failed bind), build the queue first with controllerQueue() and
 * hand it to the Controller, rather than reaching back into a controller not built yet.
 */
import { ApiError, type KubeObject } from '@shoal/api';
import type { Informer } from '@shoal/client';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EventHandler, ObjectChange } from './event-handlers.js';
import { ControllerMetrics, type ReconcileOutcome } from './metrics.js';
import type { RateLimiter } from './rate-limiter.js';
import { isTerminalError, type Reconciler } from './result.js';
import { WorkQueue } from './workqueue.js';

/** What watch() needs of an informer: its events and what it holds. */
export type InformerSource<T extends KubeObject> = Pick<Informer<T>, 'on' | 'off' | 'list'>;

/** The queue policy (STYLE.md 4): how failures back off and which key goes first. */
export interface QueuePolicy {
  /** Default: STYLE.md 4's per-key 5 ms → 1000 s backoff with an overall 50/s, burst-300 bucket. */
  rateLimiter?: RateLimiter<string>;
  /** Hands out keys of higher priority first (FIFO among equals); default: FIFO. */
  priorityOf?: (key: string) => number;
}

export interface ControllerQueueOptions extends QueuePolicy {
  /** The controller it is for: names the queue in metrics. */
  name: string;
  registry?: Registry;
}

/** A controller's workqueue with its metrics, for building before the Controller (see the header). */
export function controllerQueue(o: ControllerQueueOptions): WorkQueue<string> {
  return new WorkQueue<string>({ rateLimiter: o.rateLimiter, priorityOf: o.priorityOf, metrics: new ControllerMetrics(o.name, o.registry).queue });
}

interface CommonControllerOptions {
  /** Names the controller in logs and metrics (`scheduler`). */
  name: string;
  reconcile: Reconciler;
  /** Reconciles running at once (different keys); default 1. */
  workers?: number;
  /** Prometheus registry for the controller's metrics; default prom-client's global one. */
  registry?: Registry;
  log?: Logger;
}

/** Either the queue policy, or a queue already built with controllerQueue() (and its policy). */
export type ControllerOptions = CommonControllerOptions &
  ((QueuePolicy & { queue?: never }) | { queue: WorkQueue<string>; rateLimiter?: never; priorityOf?: never });

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  readonly metrics: ControllerMetrics;
  private readonly log: Logger;
  private readonly workers: number;
  private readonly unsubscribe: (() => void)[] = [];
  /** Per watched informer: feeds every object it holds, as at the start. */
  private readonly relisters: (() => void)[] = [];
  private running: Promise<void>[] = [];

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.workers = Math.max(1, opts.workers ?? 1);
    this.log = opts.log ?? pino({ level: 'silent' });
    this.metrics = new ControllerMetrics(opts.name, opts.registry);
    this.queue = opts.queue ?? controllerQueue({ name: opts.name, registry: opts.registry, rateLimiter: opts.rateLimiter, priorityOf: opts.priorityOf });
  }

  /**
   * Feeds the keys `handler` answers for each change of `informer` into the queue. Keys
   * collected before start() wait in the queue; that is how the first full list is reconciled.
   */
  watch<T extends KubeObject>(informer: InformerSource<T>, handler: EventHandler<T>): this {
    const feed = (change: ObjectChange<T>) => {
      for (const key of handler(change) ?? []) this.queue.add(key);
    };
    const onAdd = (object: T) => feed({ type: 'add', object });
    const onUpdate = (old: T, object: T) => feed({ type: 'update', old, object });
    const onDelete = (object: T) => feed({ type: 'delete', object });
    informer.on('add', onAdd);
    informer.on('update', onUpdate);
    informer.on('delete', onDelete);
    this.unsubscribe.push(() => {
      informer.off('add', onAdd);
      informer.off('update', onUpdate);
      informer.off('delete', onDelete);
    });
    // Objects the informer already holds were announced before we listened: enqueue them as adds.
    const feedAll = () => {
      for (const object of informer.list()) feed({ type: 'add', object });
    };
    feedAll();
    this.relisters.push(feedAll);
    return this;
  }

  /**
   * Queues the keys of every object the watched informers hold, as at the start (client-go's
   * resync): after a setting the reconciler reads has changed, so that waits computed with the
   * old value (a requeueAfter) do not hold the new one back.
   */
  resync(): void {
    for (const feedAll of this.relisters) feedAll();
  }

  /**
   * Feeds keys from a source that is not an informer (controller-runtime's source.Channel): a
   * runtime's events, say. `subscribe` starts listening, passing each key to `enqueue`, and
   * answers how to stop listening, which stop() calls.
   */
  watchKeys(subscribe: (enqueue: (key: string) => void) => () => void): this {
    this.unsubscribe.push(subscribe((key) => this.queue.add(key)));
    return this;
  }

  /** Starts the workers. Call once the informers it watches have synced. */
  start(): void {
    if (this.running.length) return;
    for (let i = 0; i < this.workers; i++) this.running.push(this.worker());
  }

  /** Stops taking keys, lets running reconciles finish, and stops listening to informers. */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics.workerStarted();
      try {
        await this.process(key);
      } finally {
        this.metrics.workerFinished();
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const started = performance.now();
    let outcome: ReconcileOutcome;
    try {
      const result = await this.opts.reconcile(key);
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined) {
        outcome = 'requeue_after';
        this.queue.addAfter(key, result.requeueAfterMs);
      } else {
        outcome = 'success';
      }
    } catch (err) {
      if (isTerminalError(err)) {
        outcome = 'terminal_error';
        this.queue.forget(key);
        this.log.error({ controller: this.name, key, err: err.message }, 'reconcile failed for good; not retrying');
      } else {
        outcome = 'error';
        const retries = this.queue.retries(key);
        // A conflict is the optimistic-concurrency loop working as designed: worth a debug line only.
        const level = err instanceof ApiError && err.code === 409 ? 'debug' : 'warn';
        this.log[level](
          { controller: this.name, key, retries, err: err instanceof Error ? err.message : String(err) },
          'reconcile failed; retrying with backoff',
        );
        this.queue.addRateLimited(key);
      }
    }
    this.metrics.reconciled(outcome, (performance.now() - started) / 1000);
  }
}
