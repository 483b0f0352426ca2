/**
 * How the items of a list are named in field paths: by their key fields in a map list, by their
 * value in a set. A stored list whose items cannot all be told apart (a key missing, the same key
 * twice) is handled as one value, the way every list without a list type is; an applied
 * configuration must name its items properly (config-check.ts says why when it does not).
 */
import { keyElement, valueElement, type PathElement } from './field-set.js';
import type { Shape } from './shape.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

type ListShape = Extract<Shape, { kind: 'list' }>;

/** Why this item has no element in the list, or undefined; `element` is set when it has one. */
export function itemElement(shape: ListShape, item: unknown): { element?: PathElement; problem?: string } {
  if (shape.type === 'set')
    return isScalar(item) ? { element: valueElement(item) } : { problem: 'the items of a set list must be strings, numbers or booleans' };
  if (shape.type !== 'map' || shape.keys.length === 0) return { problem: 'the list is atomic' };
  if (!isObject(item)) return { problem: 'the items of a map list must be objects' };
  const keys: Record<string, unknown> = {};
  for (const k of shape.keys) {
    if (!isScalar(item[k]) || item[k] === null) return { problem: `the key field ${k} is missing` };
    keys[k] = item[k];
  }
  return { element: keyElement(keys) };
}

/** The elements of every item in order, or undefined when the list is to be handled as one value. */
export function listElements(shape: Shape, list: unknown): PathElement[] | undefined {
  if (shape.kind !== 'list' || shape.type === 'atomic' || !Array.isArray(list)) return undefined;
  const elements: PathElement[] = [];
  const seen = new Set<PathElement>();
  for (const item of list) {
    const { element } = itemElement(shape, item);
    if (!element || seen.has(element)) return undefined;
    seen.add(element);
    elements.push(element);
  }
  return elements;
}
