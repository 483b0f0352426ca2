/**
 * What server-side apply needs to know of a kind's schema at each point of an object (the role
 * of structured-merge-diff's schema): whether a value is a scalar, an object with named fields,
 * a map of arbitrary keys, or a list, and for a list how its items are told apart:
 *   - atomic (the default, as in Kubernetes): the list is one value, replaced whole;
 *   - `x-kubernetes-list-type: map` with `x-kubernetes-list-map-keys`: items are identified by
 *     their key fields, merged and owned one by one;
 *   - `x-kubernetes-list-type: set`: scalar items, each owned on its own.
 * `x-kubernetes-map-type: atomic` makes an object one value too. Where the schema says nothing
 * (free-form values), objects are maps and lists are atomic, as Kubernetes deduces them.
 */
import type { JsonSchema } from '@shoal/api';

export type Shape =
  | { kind: 'scalar' }
  /** Named fields (`properties`), and for other keys `additional` when the schema allows them. */
  | { kind: 'object'; fields: Record<string, JsonSchema>; additional?: JsonSchema; atomic: boolean; closed: boolean }
  | { kind: 'list'; type: 'atomic' | 'map' | 'set'; keys: string[]; items?: JsonSchema }
  /** No schema: decided by the value. */
  | { kind: 'untyped' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const shapes = new WeakMap<JsonSchema, Shape>();

function typesOf(schema: JsonSchema): string[] {
  const t = schema.type;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

/** The shape a schema node gives its values (schemas are inlined: no $ref left). */
export function shapeOf(schema: JsonSchema | undefined): Shape {
  if (!schema) return { kind: 'untyped' };
  let shape = shapes.get(schema);
  if (!shape) {
    shape = computeShape(schema);
    shapes.set(schema, shape);
  }
  return shape;
}

function computeShape(schema: JsonSchema): Shape {
  const types = typesOf(schema).filter((t) => t !== 'null');
  const listType = schema['x-kubernetes-list-type'];
  if (types.includes('array') || schema.items !== undefined || listType !== undefined) {
    const items = isObject(schema.items) ? (schema.items as JsonSchema) : undefined;
    if (listType === 'map') return { kind: 'list', type: 'map', keys: (schema['x-kubernetes-list-map-keys'] as string[] | undefined) ?? [], items };
    if (listType === 'set') return { kind: 'list', type: 'set', keys: [], items };
    return { kind: 'list', type: 'atomic', keys: [], items };
  }
  if (types.includes('object') || schema.properties !== undefined || schema.additionalProperties !== undefined) {
    const extra = schema.additionalProperties;
    return {
      kind: 'object',
      fields: (schema.properties as Record<string, JsonSchema> | undefined) ?? {},
      additional: isObject(extra) ? (extra as JsonSchema) : undefined,
      atomic: schema['x-kubernetes-map-type'] === 'atomic',
      // An object whose schema declares nothing takes any keys (free-form).
      closed: extra === false,
    };
  }
  if (types.length > 0) return { kind: 'scalar' };
  return { kind: 'untyped' };
}

/** The schema of a key's value in an object of this shape: its field's, or that of the other keys. */
export function fieldSchema(shape: Shape, key: string): JsonSchema | undefined {
  if (shape.kind !== 'object') return undefined;
  return Object.hasOwn(shape.fields, key) ? shape.fields[key] : shape.additional;
}

/** Whether `key` is one of the object's named fields (rather than a key of a map). */
export function isNamedField(shape: Shape, key: string): boolean {
  return shape.kind === 'object' && Object.hasOwn(shape.fields, key);
}

/** The shape a value takes here: the schema's, or for free-form values what the value is. */
export function resolvedShape(shape: Shape, value: unknown): Shape {
  if (shape.kind !== 'untyped') return shape;
  if (Array.isArray(value)) return { kind: 'list', type: 'atomic', keys: [] };
  if (isObject(value)) return { kind: 'object', fields: {}, atomic: false, closed: false };
  return { kind: 'scalar' };
}

/** Whether a value fits a shape at all (a list where a list is declared, an object where an object is); if not, it is handled as one opaque value. */
export function fits(shape: Shape, value: unknown): boolean {
  if (shape.kind === 'list') return Array.isArray(value);
  if (shape.kind === 'object') return isObject(value);
  return true;
}
