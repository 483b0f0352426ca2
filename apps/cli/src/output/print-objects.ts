/**
 * -o yaml | json | name. Several objects print as a `kind: List`, as kubectl does; like kubectl,
 * without metadata.managedFields (long, and rarely what one looks for) unless asked for.
 */
import type { KindInfo, KubeObject } from '@shoal/api';
import { stringify as toYaml } from 'yaml';
import { slashName } from './resource-names.js';

export type ObjectFormat = 'yaml' | 'json' | 'name';

export interface PrintOptions {
  /** Keep metadata.managedFields (`--show-managed-fields`). */
  showManagedFields?: boolean;
}

function shown(obj: KubeObject, opts: PrintOptions): KubeObject {
  if (opts.showManagedFields || obj.metadata?.managedFields === undefined) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export function asList(items: KubeObject[]) {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
}

/** One object prints as itself; `single: false` (a list request) prints a List even of one or none. */
export function formatObjects(kind: KindInfo, items: KubeObject[], format: ObjectFormat, single: boolean, opts: PrintOptions = {}): string {
  if (format === 'name') return items.map((o) => `${slashName(kind, o.metadata.name ?? '')}\n`).join('');
  const doc = single && items.length === 1 ? shown(items[0]!, opts) : asList(items.map((o) => shown(o, opts)));
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc, { lineWidth: 0 });
}

/** One object of a stream (get -w): YAML documents separated by `---`, JSON one object after another. */
export function formatStreamedObject(kind: KindInfo, obj: KubeObject, format: ObjectFormat, opts: PrintOptions = {}): string {
  if (format === 'name') return `${slashName(kind, obj.metadata.name ?? '')}\n`;
  const doc = shown(obj, opts);
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : `---\n${toYaml(doc, { lineWidth: 0 })}`;
}
