/** The text of `describe`, from plain objects: metadata as labelled lines, spec/status as YAML, conditions and events as tables. */
import type { Condition, Event, KindInfo, KubeObject } from '@shoal/api';
import { LAST_APPLIED_ANNOTATION } from '@shoal/client';
import { stringify as toYaml } from 'yaml';
import { formatColumns } from '../../output/columns.js';
import { age, eventTime } from '@shoal/api';

const LABEL_WIDTH = 14;

/** `tables`: sections a kind's renderer shows as tables, before the conditions (their fields left out of the status it passes). */
export function renderDescription(kind: KindInfo, obj: KubeObject, events: Event[] | Error, now = Date.now(), tables: string[] = []): string {
  const lines = metadataLines(kind, obj, now);
  const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => !['apiVersion', 'kind', 'metadata', 'spec', 'status'].includes(k)));
  for (const [key, value] of Object.entries(rest)) section(lines, title(key), value);
  if (obj.spec !== undefined) section(lines, 'Spec', obj.spec);
  const status = (obj.status ?? {}) as { conditions?: Condition[] } & Record<string, unknown>;
  const { conditions, ...statusRest } = status;
  if (Object.keys(statusRest).length > 0) section(lines, 'Status', statusRest);
  lines.push(...tables);
  lines.push(...conditionLines(conditions, now));
  lines.push(...renderEvents(events, now));
  return `${lines.join('\n')}\n`;
}

/** `Label:` padded to the column where values start, then the value. */
export function labelled(label: string, value: string): string {
  return `${`${label}:`.padEnd(LABEL_WIDTH)}${value}`;
}

/** The lines every description starts with: name, namespace, labels, annotations, kind, identity, age, deletion, owners. */
export function metadataLines(kind: KindInfo, obj: KubeObject, now: number): string[] {
  const m = obj.metadata;
  const lines: string[] = [];
  const field = (label: string, value: string) => lines.push(labelled(label, value));
  const multi = (label: string, values: string[]) => {
    if (values.length === 0) return field(label, '<none>');
    field(label, values[0]!);
    for (const v of values.slice(1)) lines.push(`${' '.repeat(LABEL_WIDTH)}${v}`);
  };

  field('Name', m.name ?? '');
  if (kind.namespaced) field('Namespace', m.namespace ?? '');
  multi(
    'Labels',
    Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`),
  );
  multi(
    'Annotations',
    Object.entries(m.annotations ?? {})
      .filter(([k]) => k !== LAST_APPLIED_ANNOTATION)
      .map(([k, v]) => `${k}: ${v}`),
  );
  field('API Version', obj.apiVersion ?? kind.apiVersion);
  field('Kind', obj.kind ?? kind.kind);
  if (m.uid) field('UID', m.uid);
  field('Created', m.creationTimestamp ? `${m.creationTimestamp} (${age(m.creationTimestamp, now)} ago)` : '<unknown>');
  if (m.deletionTimestamp) field('Deleting', `since ${m.deletionTimestamp}`);
  if (m.finalizers?.length) field('Finalizers', m.finalizers.join(', '));
  if (m.ownerReferences?.length)
    multi(
      'Owned By',
      m.ownerReferences.map((o) => `${o.kind}/${o.name}`),
    );
  return lines;
}

/** A Conditions table; nothing when there are none. */
export function conditionLines(conditions: Condition[] | undefined, now: number): string[] {
  if (!conditions?.length) return [];
  const rows = conditions.map((c) => [c.type, c.status, c.reason ?? '', c.lastTransitionTime ? age(c.lastTransitionTime, now) : '', c.message ?? '']);
  return ['Conditions:', indentedTable([['Type', 'Status', 'Reason', 'Age', 'Message'], ...rows])];
}

/** A table under a section title: a header, a rule under each heading, the rows; indented two spaces. */
export function indentedTable([header, ...rows]: string[][]): string {
  return indent(formatColumns([header!, header!.map((h) => '-'.repeat(h.length)), ...rows]));
}

export function renderEvents(events: Event[] | Error, now: number): string[] {
  if (events instanceof Error) return [`Events:       <unable to list events: ${events.message}>`];
  if (events.length === 0) return ['Events:       <none>'];
  const rows = events.map((e) => [e.type ?? 'Normal', e.reason ?? '', eventAge(e, now), e.source?.component ?? '', e.message ?? '']);
  return ['Events:', indentedTable([['Type', 'Reason', 'Age', 'From', 'Message'], ...rows])];
}

/** `5m`, or `5m (x3 over 20m)` for an event that repeated. */
function eventAge(e: Event, now: number): string {
  const last = age(e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp, now);
  return e.count && e.count > 1 && e.firstTimestamp ? `${last} (x${e.count} over ${age(e.firstTimestamp, now)})` : last;
}

function section(lines: string[], label: string, value: unknown): void {
  const isEmptyObject = typeof value === 'object' && value !== null && Object.keys(value).length === 0;
  if (typeof value !== 'object' || value === null || isEmptyObject) {
    lines.push(`${`${label}:`.padEnd(LABEL_WIDTH)}${isEmptyObject ? '<none>' : String(value)}`);
    return;
  }
  lines.push(`${label}:`);
  lines.push(indent(toYaml(value, { lineWidth: 0 })));
}

function indent(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function title(key: string): string {
  return key.replace(/^./, (c) => c.toUpperCase()).replace(/([a-z])([A-Z])/g, '$1 $2');
}
