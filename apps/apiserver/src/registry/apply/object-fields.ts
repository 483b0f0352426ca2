/**
 * Field sets of objects, as structured-merge-diff computes them:
 *   - fieldSetOf: the fields an object (an applied configuration) sets. Scalars, atomic lists and
 *     atomic objects are one field each; the items of map and set lists and the keys of maps are
 *     fields of their own; an object reached through a named field counts only by what it holds
 *     (unless it is empty, or null).
 *   - withNamedFieldsAsMembers: the same set, with each named field that has paths below it a
 *     member too, so that pruning can remove an object field whose contents nobody owns any more.
 *   - removeFields: an object without the values at the set's members (a member takes what is
 *     below it with it).
 */
import type { JsonSchema } from '@shoal/api';
import { fieldElement, FieldSet, type PathElement } from './field-set.js';
import { listElements } from './list-items.js';
import { fieldSchema, fits, isNamedField, resolvedShape, shapeOf, type Shape } from './shape.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fieldSetOf(value: unknown, schema: JsonSchema | undefined): FieldSet {
  const set = new FieldSet();
  collect(value, shapeOf(schema), [], set);
  return set;
}

function collect(value: unknown, declared: Shape, path: PathElement[], set: FieldSet): void {
  const shape = resolvedShape(declared, value);
  if (shape.kind === 'scalar' || shape.kind === 'untyped' || !fits(shape, value)) {
    set.insert(path);
    return;
  }
  if (shape.kind === 'list') {
    const elements = listElements(shape, value);
    if (!elements) {
      set.insert(path);
      return;
    }
    const itemShape = shapeOf(shape.items);
    (value as unknown[]).forEach((item, i) => {
      const itemPath = [...path, elements[i]!];
      collect(item, itemShape, itemPath, set);
      set.insert(itemPath);
    });
    return;
  }
  if (shape.atomic) {
    set.insert(path);
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const p = [...path, fieldElement(key)];
    if (v === null || v === undefined) {
      set.insert(p);
      continue;
    }
    collect(v, shapeOf(fieldSchema(shape, key)), p, set);
    if ((isObject(v) && Object.keys(v).length === 0) || !isNamedField(shape, key)) set.insert(p);
  }
}

/** Kubernetes' EnsureNamedFieldsAreMembers: every named field with paths below it becomes a member as well. */
export function withNamedFieldsAsMembers(set: FieldSet, schema: JsonSchema | undefined): FieldSet {
  return ensureNamed(set, shapeOf(schema));
}

function ensureNamed(set: FieldSet, shape: Shape): FieldSet {
  const out = new FieldSet();
  out.member = set.member;
  for (const [element, child] of set.children) {
    let childShape: Shape = { kind: 'untyped' };
    if (element.startsWith('f:') && shape.kind === 'object') childShape = shapeOf(fieldSchema(shape, element.slice(2)));
    else if (!element.startsWith('f:') && shape.kind === 'list') childShape = shapeOf(shape.items);
    const ensured = ensureNamed(child, childShape);
    if (element.startsWith('f:') && isNamedField(shape, element.slice(2))) ensured.member = true;
    out.setChild(element, ensured);
  }
  return out;
}

/** `value` without what the set's members name; a copy where anything goes, `value` itself elsewhere. */
export function removeFields(value: unknown, set: FieldSet, schema: JsonSchema | undefined): unknown {
  return remove(value, set, shapeOf(schema));
}

function remove(value: unknown, set: FieldSet, declared: Shape): unknown {
  const shape = resolvedShape(declared, value);
  if (shape.kind === 'object' && !shape.atomic && isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const child = set.child(fieldElement(key));
      if (child?.member) continue;
      out[key] = child && child.children.size > 0 ? remove(v, child, shapeOf(fieldSchema(shape, key))) : v;
    }
    return out;
  }
  if (shape.kind === 'list') {
    const elements = listElements(shape, value);
    if (!elements) return value;
    const itemShape = shapeOf(shape.items);
    const out: unknown[] = [];
    (value as unknown[]).forEach((item, i) => {
      const child = set.child(elements[i]!);
      if (child?.member) return;
      out.push(child && child.children.size > 0 ? remove(item, child, itemShape) : item);
    });
    return out;
  }
  return value;
}
