/**
 * Which events one watcher sees. An object that starts or stops matching the watcher's
 * selectors turns a MODIFIED into ADDED or DELETED, as the Kubernetes watch cache does.
 */
import { matchesFields, matchesSelector, type FieldRequirement, type KubeObject, type Selector } from '@shoal/api';

export interface WatchFilter {
  namespace?: string;
  labels: Selector;
  fields: FieldRequirement[];
}

export const matchesFilter = (f: WatchFilter, o: KubeObject): boolean =>
  (!f.namespace || o.metadata.namespace === f.namespace) && matchesSelector(f.labels, o.metadata.labels) && matchesFields(f.fields, o);

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  type: ChangeType;
  object: KubeObject;
  /** The object before this change, when there was one. */
  previous?: KubeObject;
  revision: number;
  /** `object` as the API's JSON, when the change can give it more cheaply than serialising `object`. */
  readonly objectJson?: string;
}

/** What a watcher with this filter should be told about a change, if anything. */
export function eventFor(f: WatchFilter, c: Change): ChangeType | undefined {
  const now = c.type !== 'DELETED' && matchesFilter(f, c.object);
  const before = c.type === 'DELETED' ? matchesFilter(f, c.object) : c.previous !== undefined && matchesFilter(f, c.previous);
  if (c.type === 'DELETED') return before ? 'DELETED' : undefined;
  if (now && before) return 'MODIFIED';
  if (now) return 'ADDED';
  if (before) return 'DELETED';
  return undefined;
}
