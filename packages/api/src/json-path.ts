/**
 * The small part of kubectl's JSONPath that printer columns use:
 * `.status.phase`, `.spec.disks[0].size`, `.status.conditions[?(@.type=="Ready")].status`.
 */
type Step = { field: string } | { index: number } | { filterKey: string; filterValue: string };

const cache = new Map<string, Step[]>();

function parse(path: string): Step[] {
  let steps = cache.get(path);
  if (steps) return steps;
  steps = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_-]+)=="([^"]*)"\)\]/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(path))) {
    consumed = re.lastIndex;
    if (m[1] !== undefined) steps.push({ field: m[1] });
    else if (m[2] !== undefined) steps.push({ index: Number(m[2]) });
    else steps.push({ filterKey: m[3]!, filterValue: m[4]! });
  }
  if (consumed !== path.length) throw new Error(`unsupported JSONPath ${path}`);
  cache.set(path, steps);
  return steps;
}

export function evalJsonPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const step of parse(path)) {
    if (cur === null || cur === undefined) return undefined;
    if ('field' in step) cur = (cur as Record<string, unknown>)[step.field];
    else if ('index' in step) cur = Array.isArray(cur) ? cur[step.index] : undefined;
    else cur = Array.isArray(cur) ? cur.find((e) => String((e as Record<string, unknown>)?.[step.filterKey]) === step.filterValue) : undefined;
  }
  return cur;
}
