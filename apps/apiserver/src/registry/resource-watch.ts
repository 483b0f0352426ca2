/**
 * One client watch: the changes of a kind after a resourceVersion, filtered, in order, each
 * once. Served from the watch cache when its window reaches back far enough; otherwise from a
 * watch of its own on the store, which still answers 410 Expired when etcd compacted that history.
 * The resource service creates these (ResourceService.watch); routes only stream them.
 */
import { ApiError, gone, type KindInfo, type KubeObject } from '@shoal/api';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import type { PrefixWatch } from '../storage/etcd-watch.js';
import { listPrefix } from '../storage/keys.js';
import { eventFor, matchesFilter, type Change, type ChangeType, type WatchFilter } from '../storage/watch-filter.js';
import { awaitCacheRevision } from './cache-revision.js';
import { routeKeyOf } from '../storage/change-router.js';

export interface WatchSink {
  /** Delivers one event; `change` lets the sink reuse serialisation across watchers. */
  event(type: ChangeType, object: KubeObject, change?: Change): void;
  /** Ends the watch with an error event (e.g. 410 Expired). */
  fail(err: ApiError): void;
}

export interface WatchRequest {
  kind: KindInfo;
  filter: WatchFilter;
  /** '' or '0': current state as ADDED events, then changes; otherwise changes after this revision. */
  resourceVersion: string;
}

export class ResourceWatch {
  private stopFn: () => void = () => undefined;
  /** Where the revision every change up to which has been considered comes from (0: not following yet). */
  private revisionNow: () => number = () => 0;

  constructor(
    private readonly cache: WatchCache,
    private readonly store: ObjectStore,
    private readonly req: WatchRequest,
    private readonly sink: WatchSink,
  ) {}

  async start(): Promise<void> {
    const { kind, filter } = this.req;
    const rv = this.req.resourceVersion;
    if (rv === '' || rv === '0') {
      await this.cache.waitForRevision(0, 0);
      for (const { object } of this.cache.objects(kind)) if (matchesFilter(filter, object)) this.sink.event('ADDED', object);
      this.followCache();
      return;
    }
    // A revision, as ResourceService.watch checked.
    const from = Number(rv);
    await awaitCacheRevision(this.cache, from);
    const backlog = this.cache.changesSince(kind, from);
    if (backlog) {
      for (const c of backlog) this.deliver(c);
      this.followCache();
    } else {
      await this.followEtcd(from);
    }
  }

  /** Every change up to this revision has been considered for the sink (what a bookmark may say). */
  get revision(): number {
    return this.revisionNow();
  }

  stop(): void {
    this.stopFn();
  }

  private deliver(c: Change): void {
    const type = eventFor(this.req.filter, c);
    if (type) this.sink.event(type, c.object, c);
  }

  /**
   * Live changes from the cache; they are routed to this watch synchronously as the cache takes
   * them in, so nothing falls in between, and only those its filter may match (change-router.ts).
   */
  private followCache(): void {
    this.revisionNow = () => this.cache.revision;
    const unsubscribe = this.cache.subscribe(this.req.kind, (c) => this.deliver(c), routeKeyOf(this.req.filter));
    const onReset = () => this.sink.fail(gone('the watch cache was rebuilt after etcd compacted its history; list again'));
    this.cache.on('reset', onReset);
    this.stopFn = () => {
      unsubscribe();
      this.cache.off('reset', onReset);
    };
  }

  /** History older than the cache's window: read it from the store directly (rare; costs one etcd watch). */
  private async followEtcd(from: number): Promise<void> {
    const prefix = listPrefix(this.req.kind, this.req.filter.namespace);
    let watcher: PrefixWatch | undefined;
    let stopped = false;
    let revision = 0;
    this.revisionNow = () => revision;
    this.stopFn = () => {
      stopped = true;
      void watcher?.cancel().catch(() => undefined);
    };
    watcher = await this.store.watch(prefix, from + 1, {
      onChange: (_key, change) => {
        if (!stopped) this.deliver(change);
      },
      onRevision: (rev) => {
        if (!stopped) revision = rev;
      },
      onFatal: (err) => {
        if (stopped) return;
        this.sink.fail(err.compacted ? gone(`too old resource version: ${from} (etcd has compacted it)`) : new ApiError(500, 'InternalError', err.message));
      },
    });
  }
}
