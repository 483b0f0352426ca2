/**
 * What a write changes, as field sets (structured-merge-diff's Compare): the fields it added,
 * the ones whose value it modified and the ones it removed. Scalars, atomic lists and objects,
 * and containers that are empty on both sides are compared as one value; elsewhere the walk goes
 * down, and an object or list item that appears (or goes) is added (removed) itself as well as
 * what it holds. An update's writer comes to own what it added and modified; an applier
 * conflicts with the owners of what its apply would add or modify.
 */
import { isDeepStrictEqual } from 'node:util';
import type { JsonSchema } from '@shoal/api';
import { fieldElement, FieldSet, type PathElement } from './field-set.js';
import { listElements } from './list-items.js';
import { fieldSchema, fits, resolvedShape, shapeOf, type Shape } from './shape.js';

export interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** From `before` (undefined: nothing, a create) to `after`. */
export function compareObjects(before: unknown, after: unknown, schema: JsonSchema | undefined): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  walk(before ?? {}, after, shapeOf(schema), [], c);
  return c;
}

const isEmptyContainer = (v: unknown) => v === undefined || v === null || (Array.isArray(v) ? v.length === 0 : isObject(v) && Object.keys(v).length === 0);

/** Shapes whose values are compared (and owned) as one value. */
const oneValue = (shape: Shape) =>
  shape.kind === 'scalar' || shape.kind === 'untyped' || (shape.kind === 'object' && shape.atomic) || (shape.kind === 'list' && shape.type === 'atomic');

/** A value that was there before, compared as one. */
function leaf(l: unknown, r: unknown, path: PathElement[], c: Comparison): void {
  if (r === undefined) c.removed.insert(path);
  else if (!isDeepStrictEqual(l, r)) c.modified.insert(path);
}

function walk(l: unknown, r: unknown, declared: Shape, path: PathElement[], c: Comparison): void {
  if (l === undefined) {
    c.added.graft(path, added(r, declared));
    return;
  }
  const lShape = resolvedShape(declared, l);
  const rShape = resolvedShape(declared, r === undefined ? l : r);
  const sameKind = lShape.kind === rShape.kind && fits(lShape, l) && (r === undefined || fits(rShape, r));
  const shape = lShape;
  const opaque = !sameKind || oneValue(shape) || (isEmptyContainer(l) && isEmptyContainer(r));
  if (opaque) {
    leaf(l, r, path, c);
    return;
  }
  if (shape.kind === 'list') {
    const lElements = listElements(shape, l);
    const rElements = r === undefined ? [] : listElements(shape, r);
    if (!lElements || !rElements) {
      leaf(l, r, path, c);
      return;
    }
    const lItems = new Map(lElements.map((e, i) => [e, (l as unknown[])[i]]));
    const rItems = new Map(rElements.map((e, i) => [e, (r as unknown[])[i]]));
    const itemShape = shapeOf(shape.items);
    for (const e of new Set([...lElements, ...rElements])) walk(lItems.get(e), rItems.get(e), itemShape, [...path, e], c);
  } else if (shape.kind === 'object') {
    const lo = l as Record<string, unknown>;
    const ro = (r ?? {}) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(lo), ...Object.keys(ro)])) {
      if (lo[key] === undefined && ro[key] === undefined) continue;
      walk(lo[key], ro[key], shapeOf(fieldSchema(shape, key)), [...path, fieldElement(key)], c);
    }
  }
  if (r === undefined) c.removed.insert(path);
}

/**
 * What walk adds for a value with nothing before it (all of a create, a new item or field),
 * built as one subtree rather than inserted path by path from the root: the same members, at a
 * create's every field.
 */
function added(r: unknown, declared: Shape): FieldSet {
  const node = new FieldSet();
  node.member = true;
  const shape = resolvedShape(declared, r);
  if ((r !== undefined && !fits(shape, r)) || oneValue(shape) || isEmptyContainer(r)) return node;
  if (shape.kind === 'list') {
    const elements = listElements(shape, r);
    if (!elements) return node;
    // The last item of equal elements, at the place of the first, as walk's Maps take them.
    const items = new Map(elements.map((e, i) => [e, (r as unknown[])[i]]));
    const itemShape = shapeOf(shape.items);
    for (const [e, item] of items) node.setChild(e, added(item, itemShape));
  } else if (shape.kind === 'object') {
    for (const [key, value] of Object.entries(r as Record<string, unknown>)) {
      if (value !== undefined) node.setChild(fieldElement(key), added(value, shapeOf(fieldSchema(shape, key))));
    }
  }
  return node;
}
