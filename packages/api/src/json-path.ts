/**
 * A printer column's value: the first result of its JSONPath (`.status.phase`,
 * `.status.conditions[?(@.type=="Ready")].status`), read as kubectl's dialect (./jsonpath/) and
 * as Kubernetes' table convertor does: no result, or an error such as an index out of bounds,
 * is an empty cell.
 */
import { findResults } from './jsonpath/evaluate.js';
import { parseTemplate, type Node } from './jsonpath/parse.js';

export { JsonPathTemplate, type ExecuteOptions } from './jsonpath/template.js';
export { JsonPathSyntaxError } from './jsonpath/parse.js';
export { JsonPathEvaluationError } from './jsonpath/evaluate.js';

const cache = new Map<string, Node[]>();

function parsed(path: string): Node[] {
  let nodes = cache.get(path);
  if (!nodes) {
    nodes = parseTemplate(`{${path}}`);
    cache.set(path, nodes);
  }
  return nodes;
}

export function evalJsonPath(obj: unknown, path: string): unknown {
  const nodes = parsed(path);
  try {
    return findResults(nodes, obj, { allowMissingKeys: true })[0]?.[0]?.value;
  } catch {
    return undefined;
  }
}
