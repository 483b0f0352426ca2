/**
 * The objects of one list+watch, kept in the order a list shows them: by namespace, then name,
 * numbers within names compared as numbers (vm-2 before vm-10). Watch events change it in place:
 * a new object is inserted where it belongs and a deleted one removed (binary search), a
 * modified one replaced where it stands, so an event costs one row, never a sort of 10,000.
 * An event older than the object held is ignored — a replay after a reconnect — as the
 * informer's cache does (packages/client/src/object-store.ts). A list replaces everything.
 *
 * `revision` counts the changes, so a view can tell that something changed without comparing.
 */
import { objectKey, type KubeObject, type WatchEvent } from '@shoal/api/browser';
import { compareResourceVersions } from '@shoal/client/resource-version';

const collator = new Intl.Collator('en', { numeric: true });

/** Namespace, then name; ties the collator sees (vm-01 and vm-1) broken by plain order, so no two objects compare equal. */
export function compareObjects(a: KubeObject, b: KubeObject): number {
  return compareText(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compareText(a.metadata.name ?? '', b.metadata.name ?? '');
}

function compareText(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

export class Collection<T extends KubeObject> {
  private readonly byKey = new Map<string, T>();
  private order: T[] = [];
  private changes = 0;

  get size(): number {
    return this.order.length;
  }

  get revision(): number {
    return this.changes;
  }

  /** The object at this position of the order. */
  at(index: number): T | undefined {
    return this.order[index];
  }

  /** By `namespace/name` (or `name` for a cluster-scoped kind). */
  get(key: string): T | undefined {
    return this.byKey.get(key);
  }

  /** Every object, in order. Not to be modified. */
  items(): readonly T[] {
    return this.order;
  }

  /** Makes the collection equal to a fresh list. */
  replace(items: readonly T[]): void {
    this.byKey.clear();
    for (const obj of items) this.byKey.set(objectKey(obj.metadata), obj);
    this.order = [...this.byKey.values()].sort(compareObjects);
    this.changes++;
  }

  /** Applies one watch event; answers whether anything changed. */
  apply(event: WatchEvent<T>): boolean {
    const obj = event.object;
    if (!obj?.metadata?.name) return false;
    const key = objectKey(obj.metadata);
    const held = this.byKey.get(key);
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        if (held && compareResourceVersions(obj.metadata.resourceVersion, held.metadata.resourceVersion) <= 0) return false;
        this.byKey.set(key, obj);
        const { index, found } = this.search(obj);
        if (found) this.order[index] = obj;
        else this.order.splice(index, 0, obj);
        break;
      }
      case 'DELETED': {
        // A deletion carries the revision of the delete itself: one older than the object held is from before it was made again.
        if (!held || compareResourceVersions(obj.metadata.resourceVersion, held.metadata.resourceVersion) < 0) return false;
        this.byKey.delete(key);
        const { index, found } = this.search(held);
        if (found) this.order.splice(index, 1);
        break;
      }
      default:
        return false;
    }
    this.changes++;
    return true;
  }

  /** Where `obj` is, or would be inserted, in the order. */
  private search(obj: T): { index: number; found: boolean } {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareObjects(this.order[mid]!, obj);
      if (c === 0) return { index: mid, found: true };
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return { index: lo, found: false };
  }
}
