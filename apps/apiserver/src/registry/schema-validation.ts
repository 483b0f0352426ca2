/**
 * An object against its kind's schema (schemas/, through @shoal/api), as the request's
 * fieldValidation asks: unknown fields refused (Strict, the default), warned about (Warn) or
 * dropped silently (Ignore); bad values are 422 with every field path. Then defaults are filled
 * in and unknown fields dropped, in place.
 */
import { badRequest, invalid, normalizeObject, validateObject, type KindInfo, type KubeObject } from '@shoal/api';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The warnings to answer with (Warn: one per unknown field). */
export function validateAndDefault(kind: KindInfo, obj: KubeObject, fieldValidation: FieldValidation): string[] {
  const { invalid: bad, unknown } = validateObject(kind, obj);
  if (unknown.length && fieldValidation === 'Strict') {
    throw badRequest(
      `${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u.field}"`).join(', ')}`,
      unknown,
    );
  }
  if (bad.length) throw invalid({ kind: kind.kind, group: kind.group, name: obj.metadata?.name }, bad);
  normalizeObject(kind, obj);
  return fieldValidation === 'Warn' ? unknown.map((u) => `unknown field "${u.field}"`) : [];
}

/** The fieldValidation query parameter; none is Strict. */
export function parseFieldValidation(v: unknown): FieldValidation {
  if (v === undefined || v === '') return 'Strict';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation must be one of Strict, Warn, Ignore; got ${JSON.stringify(v)}`, [
    { field: 'fieldValidation', message: 'Unsupported value' },
  ]);
}
