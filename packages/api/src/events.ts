/** Which Events are about an object: what `shoalctl describe` and the web console's VM page show under it. */
import type { Event } from './model/generated.js';
import type { KubeObject } from './objects.js';

/**
 * The events about `obj` (of kind `kind.kind`), oldest first. The server cannot select events by
 * their involvedObject, so callers list a namespace's events and pick these.
 */
export function eventsAbout(events: Iterable<Event>, kind: { kind: string; namespaced: boolean }, obj: KubeObject): Event[] {
  return [...events]
    .filter((e) => {
      const io = e.involvedObject;
      if (!io || io.kind !== kind.kind || io.name !== obj.metadata.name) return false;
      if (kind.namespaced && (io.namespace ?? e.metadata.namespace) !== obj.metadata.namespace) return false;
      // An event about an earlier object of the same name is not about this one.
      return !io.uid || !obj.metadata.uid || io.uid === obj.metadata.uid;
    })
    .sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
}

/** When it last happened. */
export function eventTime(e: Event): string {
  return e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '';
}
