/** -o yaml | json | name. Several objects print as a `kind: List`, as kubectl does. */
import type { KindInfo, KubeObject } from '@shoal/api';
import { stringify as toYaml } from 'yaml';
import { slashName } from './resource-names.js';

export type ObjectFormat = 'yaml' | 'json' | 'name';

export function asList(items: KubeObject[]) {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
}

/** One object prints as itself; `single: false` (a list request) prints a List even of one or none. */
export function formatObjects(kind: KindInfo, items: KubeObject[], format: ObjectFormat, single: boolean): string {
  if (format === 'name') return items.map((o) => `${slashName(kind, o.metadata.name ?? '')}\n`).join('');
  const doc = single && items.length === 1 ? items[0] : asList(items);
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc, { lineWidth: 0 });
}

/** One object of a stream (get -w): YAML documents separated by `---`, JSON one object after another. */
export function formatStreamedObject(kind: KindInfo, obj: KubeObject, format: ObjectFormat): string {
  if (format === 'name') return `${slashName(kind, obj.metadata.name ?? '')}\n`;
  return format === 'json' ? `${JSON.stringify(obj, null, 2)}\n` : `---\n${toYaml(obj, { lineWidth: 0 })}`;
}
