/**
 * An applied configuration merged into the live object (structured-merge-diff's Merge): what the
 * configuration sets wins, everything else stays. Objects and maps merge key by key; map and set
 * lists item by item (an item of the configuration merges into the live item with its keys);
 * scalars and atomic lists and objects are replaced whole. A field the configuration sets to null
 * is removed (Kubernetes drops nulls when it decodes the result). Nothing is pruned here: what
 * the applier no longer sets is removed by field-manager.ts, once ownership is known.
 *
 * Order of a merged list: the configuration's items in its order, with each live item that the
 * configuration does not mention kept after the live item it followed.
 */
import { cloneJson, type JsonSchema } from '@shoal/api';
import type { PathElement } from './field-set.js';
import { listElements } from './list-items.js';
import { fieldSchema, fits, resolvedShape, shapeOf, type Shape } from './shape.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergeConfiguration(live: unknown, config: unknown, schema: JsonSchema | undefined): unknown {
  return merge(live, config, shapeOf(schema));
}

/** A value from the configuration, without its nulls. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = withoutNulls(v);
  return out;
}

/** A new value throughout: nothing of `l` or `r` is shared with the result, which is changed afterwards. */
function merge(l: unknown, r: unknown, declared: Shape): unknown {
  if (r === undefined) return cloneJson(l);
  if (r === null) return undefined;
  if (l === undefined || l === null) return withoutNulls(r);
  const shape = resolvedShape(declared, r);
  const granular = fits(shape, l) && resolvedShape(declared, l).kind === shape.kind;
  if (!granular || shape.kind === 'scalar' || shape.kind === 'untyped') return withoutNulls(r);
  if (shape.kind === 'object') {
    if (shape.atomic) return withoutNulls(r);
    const lo = l as Record<string, unknown>;
    const ro = r as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of new Set([...Object.keys(lo), ...Object.keys(ro)])) {
      const v = merge(lo[key], ro[key], shapeOf(fieldSchema(shape, key)));
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  const lElements = listElements(shape, l);
  const rElements = listElements(shape, r);
  if (!lElements || !rElements) return withoutNulls(r);
  return mergeLists(l as unknown[], lElements, r as unknown[], rElements, shapeOf(shape.items));
}

function mergeLists(l: unknown[], lElements: PathElement[], r: unknown[], rElements: PathElement[], itemShape: Shape): unknown[] {
  const lIndex = new Map(lElements.map((e, i) => [e, i]));
  const rSet = new Set(rElements);
  const out: unknown[] = [];
  const push = (v: unknown) => {
    if (v !== undefined) out.push(v);
  };
  // Live items before the first one the configuration mentions keep their place at the front.
  let li = 0;
  while (li < l.length && !rSet.has(lElements[li]!)) push(cloneJson(l[li++]));
  for (let ri = 0; ri < r.length; ri++) {
    const at = lIndex.get(rElements[ri]!);
    push(merge(at === undefined ? undefined : l[at], r[ri], itemShape));
    if (at === undefined) continue;
    // The live items that followed this one, up to the next the configuration mentions.
    for (let j = at + 1; j < l.length && !rSet.has(lElements[j]!); j++) push(cloneJson(l[j]));
  }
  return out;
}
