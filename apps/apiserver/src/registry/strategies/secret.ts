/**
 * Secrets: stringData is a write-only convenience, folded into data (base64) before validation and
 * never stored, so every reader sees one form. An immutable Secret keeps its data and type for
 * good (the flag itself cannot be turned off), as Kubernetes has it: readers may cache it.
 */
import { canonicalJson, type KubeObject, type StatusCause } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';

interface SecretFields {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  immutable?: boolean;
}

function foldStringData(object: KubeObject): void {
  const secret = object as KubeObject & SecretFields;
  const plain = secret.stringData;
  if (plain === undefined) return;
  delete secret.stringData;
  if (plain === null || typeof plain !== 'object') return;
  const data = { ...(secret.data ?? {}) };
  for (const [key, value] of Object.entries(plain)) if (typeof value === 'string') data[key] = Buffer.from(value, 'utf8').toString('base64');
  secret.data = data;
}

export const secretStrategy: KindStrategy = {
  prepareForCreate: foldStringData,

  prepareForUpdate(next) {
    foldStringData(next);
  },

  validateUpdate(next, current) {
    const [after, before] = [next as KubeObject & SecretFields, current as KubeObject & SecretFields];
    if (!before.immutable) return [];
    const causes: StatusCause[] = [];
    if (!after.immutable) causes.push({ field: 'immutable', type: 'FieldValueForbidden', message: 'an immutable Secret stays immutable' });
    if (canonicalJson(after.data ?? {}) !== canonicalJson(before.data ?? {}))
      causes.push({ field: 'data', type: 'FieldValueForbidden', message: 'field is immutable when `immutable` is set' });
    if ((after.type ?? 'Opaque') !== (before.type ?? 'Opaque'))
      causes.push({ field: 'type', type: 'FieldValueForbidden', message: 'field is immutable when `immutable` is set' });
    return causes;
  },
};
