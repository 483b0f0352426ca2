/**
 * The informer's cache: objects by `namespace/name`, changed only by watch events and relists,
 * never by a version older than the one it holds. Cached objects are frozen — callers share
 * them, so they copy before they modify (STYLE.md 3: "NEVER modify objects from the store").
 */
import { objectKey, type KubeObject, type WatchEvent } from '@shoal/api';
import { compareResourceVersions } from './resource-version.js';

export type StoreChange<T> = { type: 'add'; object: T } | { type: 'update'; old: T; object: T } | { type: 'delete'; object: T };

export class ObjectStore<T extends KubeObject = KubeObject> {
  private readonly items = new Map<string, T>();

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  list(): T[] {
    return [...this.items.values()];
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  get size(): number {
    return this.items.size;
  }

  /** Applies one watch event; answers what changed, or undefined for an event the cache already reflects. */
  apply(event: WatchEvent<T>): StoreChange<T> | undefined {
    const obj = event.object;
    const key = objectKey(obj.metadata);
    const cached = this.items.get(key);
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        if (cached && compareResourceVersions(obj.metadata.resourceVersion, cached.metadata.resourceVersion) <= 0) return undefined;
        this.items.set(key, deepFreeze(obj));
        return cached ? { type: 'update', old: cached, object: obj } : { type: 'add', object: obj };
      case 'DELETED':
        // A deletion carries the revision of the delete itself, so it is never older than the last
        // modification it removes; an older one is a replay from before the object was re-created.
        if (!cached || compareResourceVersions(obj.metadata.resourceVersion, cached.metadata.resourceVersion) < 0) return undefined;
        this.items.delete(key);
        return { type: 'delete', object: cached };
      default:
        return undefined;
    }
  }

  /**
   * Makes the cache equal to a fresh list and answers the differences, so handlers that only
   * see events still end with the right picture after events were lost (410 Expired).
   * A name that now belongs to another object (different uid) is a delete plus an add.
   *
   * The list wins over the cache whatever their versions: a list is read at etcd's current
   * revision, so within one history it is never older than anything the cache holds, and when it
   * is older, etcd was restored from a snapshot and the cache holds versions that no longer exist.
   */
  replace(listed: T[]): StoreChange<T>[] {
    const changes: StoreChange<T>[] = [];
    const seen = new Set<string>();
    for (const obj of listed) {
      const key = objectKey(obj.metadata);
      seen.add(key);
      const cached = this.items.get(key);
      if (!cached) {
        this.items.set(key, deepFreeze(obj));
        changes.push({ type: 'add', object: obj });
      } else if (cached.metadata.uid && obj.metadata.uid && cached.metadata.uid !== obj.metadata.uid) {
        this.items.set(key, deepFreeze(obj));
        changes.push({ type: 'delete', object: cached }, { type: 'add', object: obj });
      } else if (compareResourceVersions(obj.metadata.resourceVersion, cached.metadata.resourceVersion) !== 0) {
        this.items.set(key, deepFreeze(obj));
        changes.push({ type: 'update', old: cached, object: obj });
      }
    }
    for (const [key, cached] of this.items) {
      if (seen.has(key)) continue;
      this.items.delete(key);
      changes.push({ type: 'delete', object: cached });
    }
    return changes;
  }
}

function deepFreeze<V>(value: V): V {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
