/**
 * Which Events are about an object, and in which order they happened: by when each last
 * happened (lastTimestamp, else firstTimestamp), then by when it was recorded (creation), as
 * kubectl orders them. `describe` and `events` both read Events this way.
 */
import type { Event, KindInfo } from '@shoal/api';

/** When the Event last happened, in ms; NaN when it says nothing. */
export function eventTime(e: Event): number {
  return Date.parse(e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? '');
}

export function byEventTime(a: Event, b: Event): number {
  const time = (e: Event) => {
    const t = eventTime(e);
    return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
  };
  const created = (e: Event) => Date.parse(e.metadata.creationTimestamp ?? '') || 0;
  return time(a) - time(b) || created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

export interface EventSubject {
  kind: KindInfo;
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
