/**
 * Validation and defaulting of objects against their kind's schema (ajv), with errors as
 * Kubernetes StatusCauses: `spec.resources.vcpus: Invalid value: 0: must be >= 1`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { KindInfo } from './kinds.js';
import type { StatusCause } from './status.js';

export interface ValidationResult {
  /** Values the schema rejects (types, ranges, patterns, enums, required fields). */
  invalid: StatusCause[];
  /** Fields the schema does not declare. */
  unknown: StatusCause[];
}

interface KindValidators {
  check: ValidateFunction;
  normalize: ValidateFunction;
}

const checker = new Ajv({ allErrors: true, strict: false, useDefaults: false });
const normalizer = new Ajv({ allErrors: true, strict: false, useDefaults: 'empty', removeAdditional: true });
const compiled = new Map<string, KindValidators>();

function validatorsFor(kind: KindInfo): KindValidators {
  let v = compiled.get(kind.kind);
  if (!v) {
    v = { check: checker.compile(kind.schema), normalize: normalizer.compile(structuredClone(kind.schema)) };
    compiled.set(kind.kind, v);
  }
  return v;
}

/** `/spec/command/0` → `spec.command[0]`. */
export function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function show(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? 'undefined' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function valueAt(root: unknown, instancePath: string): unknown {
  let cur = root as Record<string, unknown> | undefined;
  for (const p of instancePath.split('/').slice(1)) cur = cur?.[p.replace(/~1/g, '/').replace(/~0/g, '~')] as never;
  return cur;
}

function toCause(e: ErrorObject, root: unknown): StatusCause {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { type: 'FieldValueRequired', field: fieldPath(e.instancePath, String(params.missingProperty)), message: 'Required value' };
    case 'additionalProperties':
      return { type: 'FieldValueNotSupported', field: fieldPath(e.instancePath, String(params.additionalProperty)), message: 'field not declared in schema' };
    case 'enum':
      return {
        type: 'FieldValueNotSupported',
        field: fieldPath(e.instancePath),
        message: `Unsupported value: ${show(valueAt(root, e.instancePath))}: supported values: ${(params.allowedValues as unknown[]).map(show).join(', ')}`,
      };
    case 'type':
      return { type: 'FieldValueTypeInvalid', field: fieldPath(e.instancePath), message: `Invalid value: ${show(valueAt(root, e.instancePath))}: must be ${e.message?.replace(/^must be /, '') ?? params.type}` };
    case 'propertyNames':
      return { type: 'FieldValueInvalid', field: fieldPath(e.instancePath, String(params.propertyName)), message: 'Invalid key: must be a qualified name (letters, digits, "-", "_", "."; optional DNS prefix and "/")' };
    default:
      return { type: 'FieldValueInvalid', field: fieldPath(e.instancePath), message: `Invalid value: ${show(valueAt(root, e.instancePath))}: ${e.message ?? 'invalid'}` };
  }
}

/** Checks an object without changing it. */
export function validateObject(kind: KindInfo, obj: unknown): ValidationResult {
  const { check } = validatorsFor(kind);
  const result: ValidationResult = { invalid: [], unknown: [] };
  if (check(obj)) return result;
  const seen = new Set<string>();
  for (const e of check.errors ?? []) {
    // propertyNames reports once for the name and once for the failing pattern: keep the first.
    if (e.propertyName !== undefined && e.keyword !== 'propertyNames') continue;
    const cause = toCause(e, obj);
    const id = `${cause.field}|${cause.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    (e.keyword === 'additionalProperties' ? result.unknown : result.invalid).push(cause);
  }
  return result;
}

/** Fills in schema defaults and drops undeclared fields, in place. Call after validateObject passed. */
export function normalizeObject<T>(kind: KindInfo, obj: T): T {
  validatorsFor(kind).normalize(obj);
  return obj;
}
