/**
 * Validation and defaulting of objects against their kind's schema (ajv), with errors as
 * Kubernetes StatusCauses: `spec.resources.vcpus: Invalid value: 0: must be >= 1`.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { KindInfo } from './kinds.js';
import { optionsSchema, type OptionsTitle } from './schemas.js';
import type { StatusCause } from './status.js';

export interface ValidationResult {
  /** Values the schema rejects (types, ranges, patterns, enums, required fields). */
  invalid: StatusCause[];
  /** Fields the schema does not declare. */
  unknown: StatusCause[];
}

interface KindValidators {
  /** Stops at the first error: for the common case, a valid object, it is twice as fast as `check`. */
  quick: ValidateFunction;
  /** Reports every error; run only when `quick` found one, to tell the client about all of them. */
  check: ValidateFunction;
  normalize: ValidateFunction;
}

const quickChecker = new Ajv({ allErrors: false, strict: false, useDefaults: false });
const checker = new Ajv({ allErrors: true, strict: false, useDefaults: false });
const normalizer = new Ajv({ allErrors: true, strict: false, useDefaults: 'empty', removeAdditional: true });
const compiled = new Map<string, KindValidators>();

function validatorsFor(kind: KindInfo): KindValidators {
  let v = compiled.get(kind.kind);
  if (!v) {
    v = {
      quick: quickChecker.compile(kind.schema),
      check: checker.compile(kind.schema),
      normalize: normalizer.compile(normalizingSchema(kind.schema) as object),
    };
    compiled.set(kind.kind, v);
  }
  return v;
}

/** Keywords that decide where defaults go and which fields are undeclared; each holds a schema, an array or a map of them. */
const STRUCTURE: Record<string, 'schema' | 'array' | 'map' | 'value'> = {
  type: 'value',
  nullable: 'value',
  default: 'value',
  properties: 'map',
  patternProperties: 'map',
  additionalProperties: 'schema',
  items: 'schema',
  prefixItems: 'array',
  additionalItems: 'schema',
  allOf: 'array',
  then: 'schema',
  else: 'schema',
  dependentSchemas: 'map',
  dependencies: 'map',
  $id: 'value',
  $ref: 'value',
  $defs: 'map',
  definitions: 'map',
};
/** Keywords whose outcome depends on validating the data: kept whole, so normalizing takes the same branches as checking. */
const BRANCHING = new Set(['anyOf', 'oneOf', 'not', 'if', 'contains']);

/**
 * The schema the normalizer runs: the kind's schema without the keywords that only judge values
 * (patterns, lengths, ranges, enums, required, propertyNames, ...). It runs only on objects the
 * full schema has already accepted, and adding defaults and dropping undeclared fields depend on
 * the structure alone, so the result is the same; the second pass just no longer re-runs every
 * regular expression and length count, which was half the cost of validating a create.
 */
export function normalizingSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(normalizingSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (BRANCHING.has(key)) out[key] = structuredClone(value);
    const role = STRUCTURE[key];
    if (role === 'value') out[key] = structuredClone(value);
    else if (role === 'schema' || role === 'array') out[key] = normalizingSchema(value);
    else if (role === 'map' && value !== null && typeof value === 'object')
      out[key] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, normalizingSchema(v)]));
  }
  return out;
}

/** `/spec/command/0` → `spec.command[0]`. */
export function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
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
      return {
        type: 'FieldValueTypeInvalid',
        field: fieldPath(e.instancePath),
        message: `Invalid value: ${show(valueAt(root, e.instancePath))}: must be ${e.message?.replace(/^must be /, '') ?? params.type}`,
      };
    case 'propertyNames':
      return {
        type: 'FieldValueInvalid',
        field: fieldPath(e.instancePath, String(params.propertyName)),
        message: 'Invalid key: must be a qualified name (letters, digits, "-", "_", "."; optional DNS prefix and "/")',
      };
    default:
      return {
        type: 'FieldValueInvalid',
        field: fieldPath(e.instancePath),
        message: `Invalid value: ${show(valueAt(root, e.instancePath))}: ${e.message ?? 'invalid'}`,
      };
  }
}

/** Checks an object without changing it. */
export function validateObject(kind: KindInfo, obj: unknown): ValidationResult {
  const { quick, check } = validatorsFor(kind);
  if (quick(obj) || check(obj)) return { invalid: [], unknown: [] };
  return resultOf(check, obj);
}

const optionsValidators = new Map<OptionsTitle, ValidateFunction>();

/**
 * Checks a request body against an options schema (schemas/options/: DeleteOptions, Binding),
 * with the same causes as an object's. The caller decides which are a 400 (not that kind of
 * body at all) and which a 422 (a field of it is wrong).
 */
export function validateOptions(title: OptionsTitle, body: unknown): ValidationResult {
  let check = optionsValidators.get(title);
  if (!check) optionsValidators.set(title, (check = checker.compile(optionsSchema(title))));
  if (check(body)) return { invalid: [], unknown: [] };
  return resultOf(check, body);
}

/** The causes of a failed check: values the schema rejects, and fields it does not declare. */
function resultOf(check: ValidateFunction, obj: unknown): ValidationResult {
  const result: ValidationResult = { invalid: [], unknown: [] };
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
