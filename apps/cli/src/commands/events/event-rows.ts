/** The rows of `shoalctl events`, as `kubectl events` prints them: LAST SEEN, TYPE, REASON, OBJECT (Kind/name), MESSAGE. */
import { age, type Event } from '@shoal/api';

export function eventHeader(withNamespace: boolean): string[] {
  return [...(withNamespace ? ['NAMESPACE'] : []), 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];
}

export function eventRow(e: Event, now: number, withNamespace: boolean): string[] {
  const io = e.involvedObject;
  return [
    ...(withNamespace ? [e.metadata.namespace ?? ''] : []),
    lastSeen(e, now),
    e.type ?? 'Normal',
    e.reason ?? '',
    `${io?.kind ?? ''}/${io?.name ?? ''}`,
    (e.message ?? '').trim(),
  ];
}

/** `42s`, or `42s (x3 over 5m)` for an Event that happened again: kubectl's interval. */
export function lastSeen(e: Event, now: number): string {
  const first = age(e.firstTimestamp ?? e.lastTimestamp ?? e.metadata.creationTimestamp, now);
  return e.count > 1 ? `${age(e.lastTimestamp ?? e.metadata.creationTimestamp, now)} (x${e.count} over ${first})` : first;
}
