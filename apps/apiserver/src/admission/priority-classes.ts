/** Where priority admission reads PriorityClasses: the watch cache, or etcd itself page by page at one revision. */
import type { KindInfo } from '@shoal/api';
import type { ObjectStore } from '../storage/object-store.js';
import type { StoredObject } from '../storage/stored-value.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { kindPrefix, objectKeyPath } from '../storage/keys.js';

/** Every PriorityClass as of one etcd revision. */
export interface ClassSnapshot {
  classes: StoredObject[];
  revision: number;
}

export interface PriorityClassSource {
  /** fresh=false: the watch cache, which may lag etcd; fresh=true: a read of etcd itself. */
  snapshot(fresh: boolean): Promise<ClassSnapshot>;
  /** The etcd key of a class, and the prefix all classes live under, for the guards. */
  keyOf(name: string): string;
  readonly prefix: string;
}

export function storedPriorityClasses(store: ObjectStore, cache: WatchCache, kind: KindInfo): PriorityClassSource {
  const prefix = kindPrefix(kind);
  return {
    prefix,
    keyOf: (name) => objectKeyPath(kind, undefined, name),
    async snapshot(fresh) {
      if (!fresh) return { classes: [...cache.objects(kind)], revision: cache.revision };
      const classes: StoredObject[] = [];
      let revision = 0;
      let startAfter: string | undefined;
      for (let more = true; more;) {
        const page = await store.listPage(prefix, { startAfter, limit: 500, revision });
        classes.push(...page.items);
        ({ revision, more } = page);
        startAfter = page.lastKey;
      }
      return { classes, revision };
    },
  };
}
