/**
 * The apiserver's in-memory view of every object, kept current by ONE etcd watch on the
 * registry prefix, so any number of client watches (and consistent lists) cost etcd nothing.
 *
 * Per kind it holds the current objects and a bounded window of recent changes. A client
 * watch from resourceVersion N is served from that window when the window reaches back to N;
 * older N are the caller's business (see ResourceWatch: a direct etcd watch, or 410 Gone).
 */
import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { Gauge } from 'prom-client';
import type { KindInfo, KubeObject } from '@shoal/api';
import { kindPrefix, REGISTRY_PREFIX } from './keys.js';
import type { ObjectStore } from './object-store.js';
import { StoredValue, type StoredObject } from './stored-value.js';
import { watchPrefix, type EtcdChange, type PrefixWatch } from './etcd-watch.js';
import type { Change } from './watch-filter.js';
import { ChangeRouter, type ChangeListener, type RouteKey } from './change-router.js';

const LIST_PAGE = 500;

/** Fixed-size ring of the most recent changes of one kind. */
class ChangeWindow {
  private readonly ring: EtcdChange[];
  private start = 0;
  private size = 0;
  /** Every change with revision > this is in the window. */
  startRevision: number;

  constructor(
    private readonly capacity: number,
    fromRevision: number,
  ) {
    this.ring = new Array(capacity);
    this.startRevision = fromRevision;
  }

  push(c: EtcdChange): void {
    if (this.size === this.capacity) {
      this.startRevision = this.ring[this.start]!.revision;
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    this.ring[(this.start + this.size) % this.capacity] = c;
    this.size++;
  }

  /** Serves no change at or before `revision` any more (etcd no longer has them: see WatchCache.compacted). */
  forgetThrough(revision: number): void {
    if (revision > this.startRevision) this.startRevision = revision;
  }

  /** Every change in the window, oldest first. */
  *changes(): Iterable<EtcdChange> {
    for (let i = 0; i < this.size; i++) yield this.ring[(this.start + i) % this.capacity]!;
  }

  /** Changes after `revision`, oldest first; undefined when the window does not reach back that far. */
  since(revision: number): Change[] | undefined {
    if (revision < this.startRevision) return undefined;
    const out: Change[] = [];
    for (let i = 0; i < this.size; i++) {
      const c = this.ring[(this.start + i) % this.capacity]!;
      if (c.revision > revision) out.push(c);
    }
    return out;
  }
}

class KindCache {
  /** By `namespace/name` (cluster-scoped: `name`), which is also the etcd key after `prefix`. */
  readonly objects = new Map<string, StoredObject>();
  readonly prefix: string;
  window: ChangeWindow;

  constructor(
    readonly kind: KindInfo,
    readonly capacity: number,
    revision: number,
  ) {
    this.prefix = kindPrefix(kind);
    this.window = new ChangeWindow(capacity, revision);
  }
}

/** The caches this process runs (one in an apiserver; tests start several), for the gauge below. */
const running = new Set<WatchCache>();

new Gauge({
  name: 'shoal_apiserver_watch_cache_objects',
  help: 'Objects the watch cache holds, by resource: form="parsed" also in parsed form, form="json" as stored JSON alone (parsed again when read; see --watch-cache-compact-interval).',
  labelNames: ['resource', 'form'],
  collect() {
    this.reset();
    for (const cache of running)
      for (const [resource, counts] of cache.objectForms()) {
        this.inc({ resource, form: 'parsed' }, counts.parsed);
        this.inc({ resource, form: 'json' }, counts.json);
      }
  },
});

/** Own writes not yet seen on the watch are forgotten once this many pile up (e.g. after a restart of the watch). */
const MAX_EXPECTED_WRITES = 10_000;

export interface WatchCacheOptions {
  /** Changes remembered per kind for watch resumption. */
  windowSize: number;
  /**
   * How often current objects that nothing read in parsed form since the last sweep go back to
   * their JSON alone (StoredValue.compactIfUnread); 30 s when absent, 0 never.
   */
  compactUnreadEveryMs?: number;
}

export declare interface WatchCache {
  on(event: 'reset', listener: () => void): this;
  on(event: 'connection', listener: (connected: boolean) => void): this;
}

export class WatchCache extends EventEmitter {
  private readonly byPlural = new Map<string, KindCache>();
  private readonly byPrefix = new Map<string, KindCache>();
  /** Objects this apiserver just wrote, by etcd key, until the watch delivers their revision. */
  private readonly expected = new Map<string, StoredObject>();
  /** The client watches following each kind live, by plural (kept across rebuilds of the cache). */
  private readonly routers = new Map<string, ChangeRouter>();
  private watcher?: PrefixWatch;
  private stopped = false;
  /** The cache reflects every write up to this etcd revision. */
  revision = 0;
  synced = false;
  connected = false;
  private revisionWaiters: { revision: number; resolve: () => void }[] = [];
  private sweepTimer?: NodeJS.Timeout;

  constructor(
    private readonly etcd: Etcd3,
    private readonly store: ObjectStore,
    private readonly kinds: KindInfo[],
    private readonly opts: WatchCacheOptions,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const revision = await this.store.currentRevision();
    const caches = await Promise.all(this.kinds.map((k) => this.load(k, revision)));
    this.byPlural.clear();
    this.byPrefix.clear();
    for (const c of caches) {
      this.byPlural.set(c.kind.plural, c);
      this.byPrefix.set(c.prefix, c);
    }
    this.revision = revision;
    // The whole keyspace, not just the registry: a write elsewhere in a shared etcd still moves the
    // revision on, so consistent reads never wait for a revision the registry will not reach.
    this.watcher = await watchPrefix(
      this.etcd,
      '',
      revision + 1,
      {
        onChange: (key, change) => this.apply(key, change),
        onRevision: (rev) => this.advance(rev),
        onFatal: (err) => void this.restart(err),
        onConnectionChange: (connected) => {
          this.connected = connected;
          this.emit('connection', connected);
        },
      },
      {
        accept: (key) => key.startsWith(REGISTRY_PREFIX),
        // This cache holds every object, so etcd need not send (nor read back) the previous value of each.
        previous: (key) => {
          const cache = this.cacheForKey(key);
          return cache?.objects.get(key.slice(cache.prefix.length));
        },
        known: (key, rev) => {
          const mine = this.expected.get(key);
          if (mine?.revision !== rev) return undefined;
          this.expected.delete(key);
          return mine.object;
        },
      },
    );
    this.connected = true;
    this.synced = true;
    running.add(this);
    const every = this.opts.compactUnreadEveryMs ?? 30_000;
    if (every > 0 && !this.sweepTimer) this.sweepTimer = setInterval(() => this.compactUnread(), every).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    running.delete(this);
    clearInterval(this.sweepTimer);
    await this.watcher?.cancel().catch(() => undefined);
  }

  /**
   * Current objects nothing has read in parsed form since the last sweep keep only their JSON:
   * lists and GETs answer from it, and whatever reads one again (a patch, a selector, a watch
   * filter) parses it again, for microseconds. Most objects of a big cluster sit unread between
   * their writes, and the parsed form is most of the cache's memory. Superseded values a watch
   * replayed from the window (parsing them) go back to JSON too: each is some change's `before`.
   * Answers how many values it compacted.
   */
  compactUnread(): number {
    let compacted = 0;
    for (const cache of this.byPlural.values()) {
      for (const stored of cache.objects.values()) if (stored instanceof StoredValue && stored.compactIfUnread()) compacted++;
      for (const change of cache.window.changes()) if (change.before instanceof StoredValue && change.before.compact()) compacted++;
    }
    return compacted;
  }

  /** How many objects of each kind (by plural) are held parsed, and how many as JSON alone. */
  objectForms(): Map<string, { parsed: number; json: number }> {
    const out = new Map<string, { parsed: number; json: number }>();
    for (const [plural, cache] of this.byPlural) {
      const counts = { parsed: 0, json: 0 };
      for (const stored of cache.objects.values()) {
        if (stored instanceof StoredValue && !stored.isParsed) counts.json++;
        else counts.parsed++;
      }
      out.set(plural, counts);
    }
    return out;
  }

  /** Reads a kind's objects at exactly `revision`, page by page. */
  private async load(kind: KindInfo, revision: number): Promise<KindCache> {
    const cache = new KindCache(kind, this.opts.windowSize, revision);
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.store.listPage(kindPrefix(kind), { startAfter, limit: LIST_PAGE, revision });
      // With its JSON, so that lists answer from it and the parsed form can be let go (compactUnread).
      for (const item of page.items)
        cache.objects.set(keyOf(item.object), item.json === undefined ? item : new StoredValue(item.revision, item.json, item.object));
      if (!page.more) break;
      startAfter = page.lastKey;
    }
    return cache;
  }

  /** The etcd watch broke beyond resumption: start over, and make every client watcher relist. */
  private async restart(err: Error): Promise<void> {
    if (this.stopped) return;
    this.synced = false;
    await this.watcher?.cancel().catch(() => undefined);
    this.emit('reset', err);
    for (;;) {
      try {
        await this.start();
        return;
      } catch {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /**
   * Says that this apiserver stored `written` under `key` (at written.revision). When the watch
   * delivers that revision of that key, the cache takes this object as it is instead of decoding
   * the value again: the same bytes, since one revision is one transaction. The caller must not
   * change the object afterwards; the cache and every watcher share it.
   */
  expectWrite(key: string, written: StoredObject): void {
    if (written.revision <= this.revision) {
      // Already seen on the watch: if nothing has parsed that value yet, it never needs to.
      const cache = this.cacheForKey(key);
      const held = cache?.objects.get(key.slice(cache.prefix.length));
      if (held instanceof StoredValue && held.revision === written.revision) held.adopt(written.object);
      return;
    }
    if (this.expected.size >= MAX_EXPECTED_WRITES) {
      for (const [k, w] of this.expected) if (w.revision <= this.revision) this.expected.delete(k);
      if (this.expected.size >= MAX_EXPECTED_WRITES) return;
    }
    this.expected.set(key, written);
  }

  private apply(key: string, change: EtcdChange): void {
    const cache = this.cacheForKey(key);
    if (!cache) return;
    const id = key.slice(cache.prefix.length);
    const before = cache.objects.get(id);
    // The cache's own copy is the authority on what came before (the watch asked it: `previous` above).
    change.before = before;
    if (change.type === 'DELETED') cache.objects.delete(id);
    else cache.objects.set(id, change.stored);
    if (change.type === 'ADDED' && before) change.type = 'MODIFIED';
    cache.window.push(change);
    if (change.revision > this.revision) this.revision = change.revision;
    this.routers.get(cache.kind.plural)?.route(change);
    // What the key held before is history now, kept only in the window for resuming watches:
    // as JSON, not as the parsed object (a fraction of the memory; parsed again if replayed).
    if (before instanceof StoredValue) before.compact();
  }

  private advance(revision: number): void {
    if (revision > this.revision) this.revision = revision;
    if (this.revisionWaiters.length) {
      this.revisionWaiters = this.revisionWaiters.filter((w) => {
        if (w.revision > this.revision) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** `/registry/{group}/{plural}/...` → that kind's cache. */
  private cacheForKey(key: string): KindCache | undefined {
    const groupEnd = key.indexOf('/', REGISTRY_PREFIX.length);
    const pluralEnd = groupEnd < 0 ? -1 : key.indexOf('/', groupEnd + 1);
    return pluralEnd < 0 ? undefined : this.byPrefix.get(key.slice(0, pluralEnd + 1));
  }

  /** Resolves once the cache has seen every write up to `revision`; false on timeout. */
  waitForRevision(revision: number, timeoutMs: number): Promise<boolean> {
    if (this.revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => (clearTimeout(timer), resolve(true)) };
      const timer = setTimeout(() => {
        this.revisionWaiters = this.revisionWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.revisionWaiters.push(waiter);
    });
  }

  /**
   * Calls `listener` with each change of `kind` from now on that `key` allows (change-router.ts),
   * synchronously as the cache takes it in. Answers how to stop. A kind the cache does not hold
   * has no changes. The watchers survive a rebuild of the cache (a 'reset' tells them to relist).
   */
  subscribe(kind: KindInfo, listener: ChangeListener, key?: RouteKey): () => void {
    let router = this.routers.get(kind.plural);
    if (!router) this.routers.set(kind.plural, (router = new ChangeRouter()));
    return router.add(listener, key);
  }

  objects(kind: KindInfo): Iterable<StoredObject> {
    return this.byPlural.get(kind.plural)?.objects.values() ?? [];
  }

  /** A kind's objects by `namespace/name` (cluster-scoped: `name`): what a list needs without parsing one. */
  entries(kind: KindInfo): Iterable<[string, StoredObject]> {
    return this.byPlural.get(kind.plural)?.objects.entries() ?? [];
  }

  getObject(kind: KindInfo, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.getStored(kind, namespace, name)?.object;
  }

  /** An object with its revision as the cache holds it (possibly behind etcd: compare-and-swap against it, never trust it as current). */
  getStored(kind: KindInfo, namespace: string | undefined, name: string): StoredObject | undefined {
    if (!this.synced) return undefined;
    return this.byPlural.get(kind.plural)?.objects.get(kind.namespaced ? `${namespace}/${name}` : name);
  }

  /**
   * etcd compacted its history to `revision` (storage/etcd-compactor.ts): a watch from an older
   * resourceVersion is no longer served from memory either, so it meets etcd's answer, 410
   * Expired, whichever apiserver it asks. A watch from `revision - 1` still is: it needs only
   * changes from `revision` on, which etcd keeps.
   */
  compacted(revision: number): void {
    for (const cache of this.byPlural.values()) cache.window.forgetThrough(revision - 1);
  }

  /** Changes of a kind after `revision`, or undefined when they are no longer in the window. */
  changesSince(kind: KindInfo, revision: number): Change[] | undefined {
    return this.byPlural.get(kind.plural)?.window.since(revision);
  }
}

function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : String(o.metadata.name);
}
