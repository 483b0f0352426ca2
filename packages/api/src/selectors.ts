/**
 * Label and field selectors, with the Kubernetes string syntax:
 *   labels: `app=web,tier!=db,zone in (a,b),env notin (prod),gpu,!spot`
 *   fields: `metadata.name=vm-1,spec.nodeName!=n2`
 */
import { badRequest } from './status.js';
import type { KubeObject } from './objects.js';

export type Requirement = { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!exists' };

export type Selector = Requirement[];

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function checkKey(key: string, param: string): string {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid ${param} key "${key}"`, [{ field: param, message: `invalid key "${key}"` }]);
  return key;
}

function checkValue(value: string, param: string): string {
  if (!VALUE.test(value) || value.length > 63)
    throw badRequest(`unable to parse requirement: invalid ${param} value "${value}"`, [{ field: param, message: `invalid value "${value}"` }]);
  return value;
}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

export function parseLabelSelector(s: string | undefined, param = 'labelSelector'): Selector {
  if (!s) return [];
  if (s.length > 4096) throw badRequest(`${param} is too long`, [{ field: param, message: 'longer than 4096 characters' }]);
  return splitTerms(s).map((term): Requirement => {
    let m = /^(\S+)\s+(in|notin)\s+\(([^()]*)\)$/.exec(term);
    if (m) {
      // Kubernetes: "for 'in', 'notin' operators, values set can't be empty". `a notin ()` would otherwise match everything.
      if (m[3]!.trim() === '')
        throw badRequest(`unable to parse requirement: values set can't be empty in "${term}"`, [{ field: param, message: `empty set in "${term}"` }]);
      const values = m[3]!.split(',').map((v) => checkValue(v.trim(), param));
      return { key: checkKey(m[1]!, param), op: m[2] as 'in' | 'notin', values };
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*([^=!\s]*)$/.exec(term);
    if (m) return { key: checkKey(m[1]!, param), op: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(m[3]!, param)] };
    m = /^!\s*(\S+)$/.exec(term);
    if (m) return { key: checkKey(m[1]!, param), op: '!exists' };
    if (KEY.test(term)) return { key: term, op: 'exists' };
    throw badRequest(`unable to parse requirement: "${term}" in ${param}`, [{ field: param, message: `cannot parse "${term}"` }]);
  });
}

export function matchesSelector(sel: Selector, labels: Record<string, string> | undefined): boolean {
  for (const r of sel) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const v = has ? labels![r.key] : undefined;
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
    }
  }
  return true;
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** The structured form used inside specs (affinity, spread constraints). */
export function selectorFromObject(s: LabelSelectorObject | undefined): Selector {
  if (!s) return [];
  const reqs: Selector = Object.entries(s.matchLabels ?? {}).map(([key, v]) => ({ key, op: 'in', values: [v] }));
  for (const e of s.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator];
    reqs.push(op === 'in' || op === 'notin' ? { key: e.key, op, values: e.values ?? [] } : { key: e.key, op });
  }
  return reqs;
}

export function formatLabelSelector(sel: Selector): string {
  return sel
    .map((r) => {
      switch (r.op) {
        case 'exists':
          return r.key;
        case '!exists':
          return `!${r.key}`;
        default:
          return r.values.length === 1 ? `${r.key}${r.op === 'in' ? '=' : '!='}${r.values[0]}` : `${r.key} ${r.op} (${r.values.join(',')})`;
      }
    })
    .join(',');
}

/** Fields a list or watch may select on, as Kubernetes does for pods. */
export const SELECTABLE_FIELDS: Record<string, (o: KubeObject) => string | undefined> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
  'spec.nodeName': (o) => (o.spec as { nodeName?: string } | undefined)?.nodeName,
  'status.phase': (o) => (o.status as { phase?: string } | undefined)?.phase,
};

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export function parseFieldSelector(s: string | undefined): FieldRequirement[] {
  if (!s) return [];
  if (s.length > 4096) throw badRequest('fieldSelector is too long', [{ field: 'fieldSelector', message: 'longer than 4096 characters' }]);
  return splitTerms(s).map((term) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: "${term}"`, [{ field: 'fieldSelector', message: `cannot parse "${term}"` }]);
    const field = m[1]!;
    if (!SELECTABLE_FIELDS[field])
      throw badRequest(`field label not supported: ${field}`, [
        { field: 'fieldSelector', message: `"${field}" is not a selectable field; use one of ${Object.keys(SELECTABLE_FIELDS).join(', ')}` },
      ]);
    return { field, op: m[2] === '!=' ? '!=' : '=', value: unescapeFieldValue(m[3]!, term) };
  });
}

/** As Kubernetes' fields.UnescapeValue: `\\`, `\,` and `\=` stand for themselves; an unescaped `=` or `!`, or any other escape, is an error. */
function unescapeFieldValue(raw: string, term: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next !== '\\' && next !== ',' && next !== '=')
        throw badRequest(`invalid field selector: invalid escape sequence in "${term}"`, [{ field: 'fieldSelector', message: `invalid escape in "${term}"` }]);
      out += next;
      i++;
    } else if (c === '=' || c === '!') {
      throw badRequest(`invalid field selector: unescaped "${c}" in the value of "${term}"`, [
        { field: 'fieldSelector', message: `unescaped "${c}" in "${term}"` },
      ]);
    } else out += c;
  }
  return out;
}

export function matchesFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  for (const r of reqs) {
    const v = SELECTABLE_FIELDS[r.field]!(obj) ?? '';
    if ((v === r.value) !== (r.op === '=')) return false;
  }
  return true;
}
