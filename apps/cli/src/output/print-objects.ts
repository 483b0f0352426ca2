/**
 * -o yaml | json | name | jsonpath=... Several objects print as a `kind: List`, as kubectl does;
 * like kubectl, yaml and json without metadata.managedFields (long, and rarely what one looks
 * for) unless asked for, while a template sees the object whole.
 */
import { JsonPathEvaluationError, type KindInfo, type KubeObject } from '@shoal/api';
import { stringify as toYaml } from 'yaml';
import type { JsonPathOutput } from './output-format.js';
import { slashName } from './resource-names.js';

export type ObjectFormat = 'yaml' | 'json' | 'name' | JsonPathOutput;

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
  if (typeof format === 'object') return runJsonPath(format, single && items.length === 1 ? items[0] : asList(items));
  const doc = single && items.length === 1 ? shown(items[0]!, opts) : asList(items.map((o) => shown(o, opts)));
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc, { lineWidth: 0 });
}

/** One object of a stream (get -w): YAML documents separated by `---`, JSON one object after another, a template per object. */
export function formatStreamedObject(kind: KindInfo, obj: KubeObject, format: ObjectFormat, opts: PrintOptions = {}): string {
  if (format === 'name') return `${slashName(kind, obj.metadata.name ?? '')}\n`;
  if (typeof format === 'object') return runJsonPath(format, obj);
  const doc = shown(obj, opts);
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : `---\n${toYaml(doc, { lineWidth: 0 })}`;
}

/** kubectl's AllowMissingKeys is on for get: a field an object lacks prints nothing. */
function runJsonPath(format: JsonPathOutput, doc: unknown): string {
  try {
    return format.jsonpath.execute(doc, { allowMissingKeys: true, asJson: format.asJson });
  } catch (err) {
    if (err instanceof JsonPathEvaluationError) throw new Error(`error executing jsonpath ${JSON.stringify(format.jsonpath.text)}: ${err.message}`);
    throw err;
  }
}
