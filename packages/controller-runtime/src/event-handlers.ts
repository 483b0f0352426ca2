/**
 * Informer events become queue keys here, and only keys: the queue carries identity, never the
 * event (STYLE.md 2). A handler looks at a change and answers the keys to reconcile — its own
 * key for the object itself, or any others a mapping finds (a Node change → the VMs waiting
 * for a node).
 */
import { objectKey, type KubeObject } from '@shoal/api';

export type ObjectChange<T extends KubeObject = KubeObject> =
  { type: 'add'; object: T } | { type: 'update'; old: T; object: T } | { type: 'delete'; object: T };

/** The keys a change should enqueue; nothing (or an empty list) for none. */
export type EventHandler<T extends KubeObject = KubeObject> = (change: ObjectChange<T>) => Iterable<string> | undefined | void;

/** Enqueues the changed object's own `namespace/name` (controller-runtime's `For`). */
export function enqueueObject<T extends KubeObject>(): EventHandler<T> {
  return (change) => [objectKey(change.object.metadata)];
}

/** Enqueues whatever `map` answers for the changed object (controller-runtime's `EnqueueRequestsFromMapFunc`). */
export function enqueueMapped<T extends KubeObject>(map: (object: T, change: ObjectChange<T>) => Iterable<string>): EventHandler<T> {
  return (change) => map(change.object, change);
}

/** Runs several handlers on each change; the queue dedupes the keys they share. */
export function allOf<T extends KubeObject>(...handlers: EventHandler<T>[]): EventHandler<T> {
  return function* (change) {
    for (const h of handlers) yield* h(change) ?? [];
  };
}
