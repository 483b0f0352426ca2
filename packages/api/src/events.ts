/**
 * Which Events are about an object, and in which order they happened: by when each last happened
 * (lastTimestamp, else firstTimestamp), then by when it was recorded (creation), as kubectl orders
 * them. `shoalctl describe`, `shoalctl events` and the web console's VM page read Events this way.
 */
import type { Event } from './model/generated.js';
import type { KubeObject } from './objects.js';

/** When it last happened (RFC 3339), '' when it says nothing. */
export function eventTime(e: Event): string {
  return e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '';
}

/** Oldest first; an Event that says nothing of its time sorts first. */
export function byEventTime(a: Event, b: Event): number {
  const time = (e: Event) => Date.parse(eventTime(e)) || Number.NEGATIVE_INFINITY;
  const created = (e: Event) => Date.parse(e.metadata.creationTimestamp ?? '') || 0;
  const dt = time(a) - time(b);
  return (Number.isNaN(dt) ? 0 : dt) || created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

export interface EventSubject {
  kind: { kind: string; namespaced: boolean };
  name: string;
  /** The object's namespace; undefined for a cluster-scoped object. */
  namespace: string | undefined;
  /** When known, an Event about an earlier object of the same name is left out. */
  uid?: string;
}

export function isAbout(e: Event, subject: EventSubject): boolean {
  const io = e.involvedObject;
  if (!io || io.kind !== subject.kind.kind || io.name !== subject.name) return false;
  if (subject.kind.namespaced && (io.namespace ?? e.metadata.namespace) !== subject.namespace) return false;
  return !io.uid || !subject.uid || io.uid === subject.uid;
}

/**
 * The events about `obj` (of kind `kind.kind`), oldest first. The server cannot select events by
 * their involvedObject, so callers list a namespace's events and pick these.
 */
export function eventsAbout(events: Iterable<Event>, kind: { kind: string; namespaced: boolean }, obj: KubeObject): Event[] {
  const subject = { kind, name: obj.metadata.name ?? '', namespace: obj.metadata.namespace, uid: obj.metadata.uid };
  return [...events].filter((e) => isAbout(e, subject)).sort(byEventTime);
}
