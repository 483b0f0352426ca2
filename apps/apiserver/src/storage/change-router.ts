/**
 * Hands each change of one kind to the watchers that may want it, as the Kubernetes watch cache's
 * indexed triggers do. A watcher whose filter requires one field to equal a value (an agent's
 * `spec.nodeName=<its node>`, a namespaced watch's namespace) is reached only by changes whose
 * object has that value now or had it before (so it still sees the object leave); every other
 * watcher is reached by every change of the kind. Without this, each change cost one call per
 * open watch of any kind — with a thousand agents watching their own VMs, a thousand calls per
 * write, nearly all of them to say "not mine".
 *
 * The watcher's own filter still decides (watch-filter.ts): the index only spares it the changes
 * that cannot match. Listeners run synchronously, in subscription order within each group.
 */
import { SELECTABLE_FIELDS, type KubeObject } from '@shoal/api';
import type { Change } from './watch-filter.js';

export type ChangeListener = (change: Change) => void;

/** A field a watcher's filter requires to be `value` (`metadata.namespace`, or a selectable field). */
export interface RouteKey {
  field: string;
  value: string;
}

/** As matchesFields reads a field: absent is ''. */
const fieldOf = (field: string, o: KubeObject): string => SELECTABLE_FIELDS[field]?.(o) ?? '';

export class ChangeRouter {
  private readonly unrouted = new Set<ChangeListener>();
  /** field → value → listeners. */
  private readonly routed = new Map<string, Map<string, Set<ChangeListener>>>();

  /** Adds a listener (reached by every change, or only by those `key` allows); answers how to remove it. */
  add(listener: ChangeListener, key?: RouteKey): () => void {
    if (!key) {
      this.unrouted.add(listener);
      return () => this.unrouted.delete(listener);
    }
    let byValue = this.routed.get(key.field);
    if (!byValue) this.routed.set(key.field, (byValue = new Map()));
    let listeners = byValue.get(key.value);
    if (!listeners) byValue.set(key.value, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size) return;
      byValue.delete(key.value);
      if (!byValue.size) this.routed.delete(key.field);
    };
  }

  get size(): number {
    let n = this.unrouted.size;
    for (const byValue of this.routed.values()) for (const listeners of byValue.values()) n += listeners.size;
    return n;
  }

  route(change: Change): void {
    for (const listener of this.unrouted) listener(change);
    for (const [field, byValue] of this.routed) {
      // A deletion's object is the last state; otherwise the object now and, if any, before.
      const now = fieldOf(field, change.object);
      const before = change.type !== 'DELETED' && change.previous ? fieldOf(field, change.previous) : now;
      const current = byValue.get(now);
      if (current) for (const listener of current) listener(change);
      if (before !== now) {
        const earlier = byValue.get(before);
        if (earlier) for (const listener of earlier) listener(change);
      }
    }
  }
}

/**
 * The route for a watch filter: its namespace, else its first `=` field requirement; undefined
 * (every change) when it has neither.
 */
export function routeKeyOf(filter: { namespace?: string; fields: { field: string; op: string; value: string }[] }): RouteKey | undefined {
  const equal = filter.fields.find((r) => r.op === '=');
  if (equal) return { field: equal.field, value: equal.value };
  if (filter.namespace) return { field: 'metadata.namespace', value: filter.namespace };
  return undefined;
}
