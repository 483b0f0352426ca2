/**
 * List + watch into a local cache, like client-go's reflector and store together.
 *
 *   list (paged) ──► replace cache, emit differences ──► watch from the list's resourceVersion
 *        ▲                                                   │ stream ends: resume from the last
 *        └──────────── 410 Expired / other errors ◄──────────┘ version seen (watch.ts does that)
 *
 * The cache is updated before handlers run, so a handler that reads the informer sees the state
 * the event describes. Handlers run synchronously in event order; one that throws is reported
 * as a 'warning' and does not stop the informer.
 */
import { EventEmitter } from 'node:events';
import { ApiError, type KindInfo, type KubeObject } from '@shoal/api';
import { Backoff, sleep, type BackoffOptions } from './backoff.js';
import type { ShoalClient } from './client.js';
import { resolveKind } from './kind-lookup.js';
import { ObjectStore, type StoreChange } from './object-store.js';

export interface InformerOptions {
  /** Omitted on a namespaced kind: all namespaces. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per list page. */
  pageSize?: number;
  backoff?: BackoffOptions;
  /**
   * Bounds for the per-connection server timeout, picked at random per watch so that a fleet of
   * informers does not reconnect in step. The watch resumes seamlessly when it fires.
   */
  watchTimeoutSeconds?: [min: number, max: number];
}

export interface InformerEvents<T> {
  add: [object: T];
  update: [old: T, object: T];
  delete: [object: T];
  /** A list finished and the cache equals it. */
  sync: [];
  /** Something went wrong and is being retried (or a handler threw). For logs only. */
  warning: [error: unknown];
}

export class Informer<T extends KubeObject = KubeObject> extends EventEmitter<InformerEvents<T>> {
  readonly kind: KindInfo;
  private readonly store = new ObjectStore<T>();
  private abort?: AbortController;
  private running?: Promise<void>;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private resourceVersion?: string;

  constructor(
    private readonly client: ShoalClient,
    kind: string | KindInfo,
    private readonly opts: InformerOptions = {},
  ) {
    super();
    this.kind = resolveKind(kind);
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = undefined;
    for (const wake of this.syncWaiters.splice(0)) wake();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list; rejects if the informer stops or the timeout passes first. */
  waitForSync(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        opts.timeoutMs !== undefined
          ? setTimeout(() => reject(new Error(`${this.kind.plural} informer did not sync within ${opts.timeoutMs} ms`)), opts.timeoutMs)
          : undefined;
      this.syncWaiters.push(() => {
        clearTimeout(timer);
        if (this.synced) resolve();
        else reject(new Error(`${this.kind.plural} informer stopped before it synced`));
      });
    });
  }

  list(): T[] {
    return this.store.list();
  }

  /** By `namespace/name` (namespaced kinds) or `name` (cluster-scoped kinds). */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** The last resourceVersion the cache reflects: a list's, then each event's and BOOKMARK's. */
  get lastSyncResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.opts.backoff);
    const selectors = { namespace: this.opts.namespace, labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
    while (!signal.aborted) {
      try {
        const list = await this.client.listAll<T>(this.kind, { ...selectors, pageSize: this.opts.pageSize, signal });
        this.notify(this.store.replace(list.items));
        this.resourceVersion = list.metadata.resourceVersion;
        this.markSynced();
        const events = this.client.watch<T>(
          this.kind,
          {
            ...selectors,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.watchTimeout(),
            backoff: this.opts.backoff,
            onReconnect: (reason) => this.warn(reason),
          },
          signal,
        );
        for await (const event of events) {
          backoff.reset();
          this.resourceVersion = event.object.metadata?.resourceVersion ?? this.resourceVersion;
          if (event.type === 'BOOKMARK') continue;
          const change = this.store.apply(event);
          if (change) this.notify([change]);
        }
      } catch (err) {
        if (signal.aborted) return;
        // 410: the versions we would resume from are gone; the next list repairs the cache.
        this.warn(err instanceof ApiError && err.code === 410 ? new Error(`${this.kind.plural} watch expired, relisting: ${err.message}`) : err);
        try {
          await sleep(backoff.next(), signal);
        } catch {
          return;
        }
      }
    }
  }

  private watchTimeout(): number {
    const [min, max] = this.opts.watchTimeoutSeconds ?? [300, 600];
    return Math.round(min + Math.random() * (max - min));
  }

  private markSynced(): void {
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
    this.safely(() => this.emit('sync'));
  }

  private notify(changes: StoreChange<T>[]): void {
    for (const c of changes) {
      this.safely(() => (c.type === 'update' ? this.emit('update', c.old, c.object) : this.emit(c.type, c.object)));
    }
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.warn(err);
    }
  }

  private warn(err: unknown): void {
    try {
      this.emit('warning', err);
    } catch {
      // A throwing warning handler has nobody left to tell.
    }
  }
}
