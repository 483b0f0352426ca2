/**
 * An apply configuration checked before it is merged: a whole (partial) object of the URL's
 * kind, named, without managedFields (ownership is the server's to work out, not the applier's
 * to claim); fields the schema does not declare refused, warned about or dropped as the request's
 * fieldValidation says; every item of a map list named by its key fields, once. Only the part
 * the request writes is kept: status for the status subresource, everything else otherwise
 * (status changes only through /status, so an applier never owns status on the object itself).
 */
import { cloneJson, badRequest, invalid, type KindInfo, type KubeObject } from '@shoal/api';
import { checkEnvelope } from '../object-envelope.js';
import type { FieldValidation } from '../schema-validation.js';
import { itemElement } from './list-items.js';
import { fieldSchema, fits, resolvedShape, shapeOf, type Shape } from './shape.js';

export interface ConfigurationRequest {
  kind: KindInfo;
  namespace?: string;
  name: string;
  subresource?: 'status';
  fieldValidation: FieldValidation;
}

export interface CheckedConfiguration {
  config: KubeObject;
  warnings: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type Step = string | number;

/** `spec.volumes[0].name`, as field paths read in every other error. */
function fieldPath(steps: readonly Step[]): string {
  return steps.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

export function checkConfiguration(req: ConfigurationRequest, body: unknown): CheckedConfiguration {
  const { kind } = req;
  if (!isObject(body)) throw badRequest(`the body of an apply patch must be a ${kind.kind} object (YAML or JSON)`);
  for (const field of ['apiVersion', 'kind'] as const)
    if (body[field] === undefined || body[field] === '')
      throw badRequest(`an apply configuration must set ${field} (${kind[field === 'kind' ? 'kind' : 'apiVersion']})`, [{ field, message: 'Required value' }]);
  const config = checkEnvelope(kind, cloneJson(body), req.namespace);
  const meta = config.metadata;
  if (!meta.name) throw badRequest(`an apply configuration must set metadata.name (${req.name})`, [{ field: 'metadata.name', message: 'Required value' }]);
  if (meta.name !== req.name)
    throw badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${req.name})`, [
      { field: 'metadata.name', message: `must be ${req.name}` },
    ]);
  if (meta.managedFields !== undefined)
    throw badRequest('metadata.managedFields must not be set in an apply configuration: the server records who owns which field', [
      { field: 'metadata.managedFields', message: 'Forbidden: must be empty in an apply configuration' },
    ]);

  const part: KubeObject =
    req.subresource === 'status'
      ? {
          apiVersion: config.apiVersion,
          kind: config.kind,
          metadata: { name: meta.name, ...(meta.namespace ? { namespace: meta.namespace } : {}) },
          status: config.status,
        }
      : config;
  if (req.subresource === 'status' && part.status === undefined) delete part.status;
  if (req.subresource !== 'status' && kind.hasStatus) delete part.status;

  const unknown: Step[][] = [];
  const invalidItems: { field: string; message: string; type: string }[] = [];
  walk(part, shapeOf(kind.schema), [], unknown, invalidItems);
  if (invalidItems.length) throw invalid({ kind: kind.kind, group: kind.group, name: meta.name }, invalidItems);
  const names = unknown.map(fieldPath);
  if (names.length && req.fieldValidation === 'Strict')
    throw badRequest(
      `${kind.kind} in version "${kind.version}" cannot be handled as a ${kind.kind}: strict decoding error: ${names.map((n) => `unknown field "${n}"`).join(', ')}`,
      names.map((field) => ({ type: 'FieldValueNotSupported', field, message: 'field not declared in schema' })),
    );
  for (const steps of unknown) dropAt(part, steps);
  return { config: part, warnings: req.fieldValidation === 'Warn' ? names.map((n) => `unknown field "${n}"`) : [] };
}

function walk(value: unknown, declared: Shape, at: Step[], unknown: Step[][], bad: { field: string; message: string; type: string }[]): void {
  const shape = resolvedShape(declared, value);
  if (!fits(shape, value)) return; // a wrong type: schema validation names it
  if (shape.kind === 'object') {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (shape.closed && !Object.hasOwn(shape.fields, key)) {
        unknown.push([...at, key]);
        continue;
      }
      if (v !== null) walk(v, shapeOf(fieldSchema(shape, key)), [...at, key], unknown, bad);
    }
  } else if (shape.kind === 'list') {
    const seen = new Map<string, number>();
    (value as unknown[]).forEach((item, i) => {
      if (shape.type !== 'atomic') {
        const { element, problem } = itemElement(shape, item);
        const field = fieldPath([...at, i]);
        if (!element) bad.push({ field, message: `Invalid value: ${problem}`, type: 'FieldValueInvalid' });
        else if (seen.has(element))
          bad.push({ field, message: `Duplicate value: the same item as ${fieldPath([...at, seen.get(element)!])}`, type: 'FieldValueDuplicate' });
        else seen.set(element, i);
      }
      walk(item, shapeOf(shape.items), [...at, i], unknown, bad);
    });
  }
}

function dropAt(root: unknown, steps: readonly Step[]): void {
  let node = root as Record<string | number, unknown>;
  for (const s of steps.slice(0, -1)) node = node[s] as Record<string | number, unknown>;
  delete node[steps.at(-1)!];
}
