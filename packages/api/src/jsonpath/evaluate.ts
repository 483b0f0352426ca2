/**
 * Evaluating a parsed kubectl JSONPath template against plain JSON data, as client-go's
 * jsonpath.go does: each top-level node gives a list of results (printed joined by spaces), a
 * `{range ...}` repeats what follows up to its `{end}` for each value it selects.
 *
 * Values carry their Go kind where it matters: a JSON number is an int when whole (Kubernetes'
 * unstructured decoder makes it an int64) and a float otherwise, a template's `2.0` is a float,
 * and a filter compares only values of one kind, as Go's template package does.
 */
import type { ArrayNode, FilterNode, ListNode, Node } from './parse.js';

/** A value found: the JSON value itself, or a literal of the template, or a byte of a string (`.name.*`). */
export type Found = { value: unknown; kind?: 'float' | 'uint' };

export class JsonPathEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathEvaluationError';
  }
}

export interface EvaluateOptions {
  /** A field that is not there gives no result instead of an error (kubectl get does this). */
  allowMissingKeys?: boolean;
}

/** The results of each top-level node, in order; ranges contribute their body's results per value. */
export function findResults(nodes: Node[], data: unknown, opts: EvaluateOptions = {}): Found[][] {
  return new Evaluator(opts).run(nodes, data).results;
}

interface RunResult {
  results: Found[][];
  /** Where an `{end}` closed this run: the caller skips past it. */
  endIndex?: number;
}

class Evaluator {
  private rangeDepth = 0;

  constructor(private readonly opts: EvaluateOptions) {}

  run(nodes: Node[], data: unknown): RunResult {
    const cur: Found[] = [{ value: data }];
    const results: Found[][] = [];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i]!;
      if (isKeyword(node, 'end')) {
        if (this.rangeDepth === 0) throw new JsonPathEvaluationError('not in range, nothing to end');
        return { results, endIndex: i };
      }
      if (isKeyword(node, 'range')) {
        const values = this.walkList(cur, { type: 'list', nodes: (node as ListNode).nodes.slice(1) });
        const body = nodes.slice(i + 1);
        this.rangeDepth++;
        let endIndex: number | undefined;
        // An empty range still reads its body, to find where its end is.
        for (const v of values.length > 0 ? values : [{ value: null }]) {
          const inner = this.run(body, v.value);
          if (values.length > 0) results.push(...inner.results);
          endIndex = inner.endIndex;
        }
        this.rangeDepth--;
        // Without an {end} the body ran to the end of the template, and (as in kubectl) runs once more on the data outside.
        if (endIndex !== undefined) i += 1 + endIndex;
        continue;
      }
      results.push(this.walk(cur, node));
    }
    return { results };
  }

  private walk(input: Found[], node: Node): Found[] {
    switch (node.type) {
      case 'list':
        return this.walkList(input, node);
      case 'text':
        return [{ value: node.text }];
      case 'field':
        return this.field(input, node.name);
      case 'array':
        return this.array(input, node);
      case 'filter':
        return this.filter(input, node);
      case 'number':
        return input.map(() => ({ value: node.value, kind: node.float ? ('float' as const) : undefined }));
      case 'bool':
        return input.map(() => ({ value: node.value }));
      case 'wildcard':
        return input.flatMap((f) => children(f.value));
      case 'recursive':
        return this.recursive(input);
      case 'union':
        return node.nodes.flatMap((list) => this.walkList(input, list));
      case 'identifier':
        throw new JsonPathEvaluationError(
          node.name === 'end' || node.name === 'range' ? `${node.name} must stand alone in its braces` : `unrecognized identifier ${node.name}`,
        );
    }
  }

  private walkList(input: Found[], list: ListNode): Found[] {
    let cur = input;
    for (const node of list.nodes) cur = this.walk(cur, node);
    return cur;
  }

  private field(input: Found[], name: string): Found[] {
    if (input.length === 0) return [];
    const results: Found[] = [];
    for (const { value } of input) {
      if (isMap(value) && Object.hasOwn(value, name)) results.push({ value: value[name] });
    }
    if (results.length === 0 && !this.opts.allowMissingKeys) throw new JsonPathEvaluationError(`${name} is not found`);
    return results;
  }

  private array(input: Found[], node: ArrayNode): Found[] {
    const results: Found[] = [];
    for (const { value } of input) {
      if (value === null || value === undefined) continue;
      if (!Array.isArray(value)) throw new JsonPathEvaluationError(`${goTypeName(value)} is not array or slice`);
      const [startParam, endParam, stepParam] = node.params;
      const length = value.length;
      let start = startParam.known ? startParam.value : 0;
      if (start < 0) start += length;
      let end = endParam.known ? endParam.value : length;
      if (end < 0 || (end === 0 && endParam.derived)) end += length;
      // Asking for no elements is allowed, and (as in kubectl) ends the walk over the other inputs too.
      if (end === start) return results;
      if (start >= length || start < 0) throw new JsonPathEvaluationError(`array index out of bounds: index ${start}, length ${length}`);
      if (end > length || end < 0) throw new JsonPathEvaluationError(`array index out of bounds: index ${end - 1}, length ${length}`);
      if (start > end) throw new JsonPathEvaluationError(`starting index ${start} is greater than ending index ${end}`);
      let step = 1;
      if (stepParam.known) {
        if (stepParam.value <= 0) throw new JsonPathEvaluationError('step must be > 0');
        step = stepParam.value;
      }
      for (let i = start; i < end; i += step) results.push({ value: value[i] });
    }
    return results;
  }

  /** Each value with children, then (depth first) every descendant with children, and every non-empty string. */
  private recursive(input: Found[]): Found[] {
    const results: Found[] = [];
    for (const f of input) {
      if (f.value === null || f.value === undefined) continue;
      const kids = children(f.value);
      if (kids.length === 0) continue;
      results.push(f, ...this.recursive(kids));
    }
    return results;
  }

  private filter(input: Found[], node: FilterNode): Found[] {
    const results: Found[] = [];
    for (const { value } of input) {
      if (!Array.isArray(value)) throw new JsonPathEvaluationError(`${goTypeName(value)} is not array or slice and cannot be filtered`);
      for (const element of value) {
        const item: Found[] = [{ value: element }];
        if (node.operator === 'exists') {
          let lefts: Found[] = [];
          try {
            lefts = this.walkList(item, node.left);
          } catch {
            // kubectl counts an error here as absent.
          }
          if (lefts.length > 0) results.push({ value: element });
          continue;
        }
        const left = this.single(this.walkList(item, node.left));
        if (!left) continue;
        const right = this.single(this.walkList(item, node.right));
        if (!right) continue;
        if (compare(left, right, node.operator)) results.push({ value: element });
      }
    }
    return results;
  }

  private single(found: Found[]): Found | undefined {
    if (found.length > 1) throw new JsonPathEvaluationError('can only compare one element at a time');
    return found[0];
  }
}

function isKeyword(node: Node, name: 'range' | 'end'): boolean {
  return node.type === 'list' && node.nodes[0]?.type === 'identifier' && node.nodes[0].name === name;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What `*` and `..` step into: a map's values, an array's elements, a string's bytes (as Go indexes a string). */
function children(value: unknown): Found[] {
  if (Array.isArray(value)) return value.map((v) => ({ value: v }));
  if (isMap(value)) return Object.values(value).map((v) => ({ value: v }));
  if (typeof value === 'string') return [...Buffer.from(value, 'utf8')].map((b) => ({ value: b, kind: 'uint' as const }));
  return [];
}

type GoKind = 'bool' | 'int' | 'uint' | 'float' | 'string' | 'invalid';

function kindOf(f: Found): GoKind {
  if (f.kind) return f.kind;
  switch (typeof f.value) {
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(f.value) ? 'int' : 'float';
    default:
      return 'invalid';
  }
}

/** Go template's eq/lt on basic kinds: the same kind only (ints of either sign excepted). */
function compare(left: Found, right: Found, operator: string): boolean {
  const kl = kindOf(left);
  const kr = kindOf(right);
  if (kl === 'invalid' || kr === 'invalid') throw new JsonPathEvaluationError('invalid type for comparison');
  const integers = (k: GoKind) => k === 'int' || k === 'uint';
  if (kl !== kr && !(integers(kl) && integers(kr))) throw new JsonPathEvaluationError('incompatible types for comparison');
  const a = left.value as number | string | boolean;
  const b = right.value as number | string | boolean;
  const ordered = () => {
    if (kl === 'bool') throw new JsonPathEvaluationError('invalid type for comparison');
    return a < b;
  };
  switch (operator) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return ordered();
    case '<=':
      return ordered() || a === b;
    case '>':
      return !(ordered() || a === b);
    case '>=':
      return !ordered();
    default:
      throw new JsonPathEvaluationError(`unrecognized filter operator ${operator}`);
  }
}

/** How Go names the type of a JSON value in its errors, e.g. `map[string]interface {} is not array or slice`. */
function goTypeName(value: unknown): string {
  if (isMap(value)) return 'map[string]interface {}';
  if (Array.isArray(value)) return '[]interface {}';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  if (value === null || value === undefined) return '<nil>';
  return typeof value === 'boolean' ? 'bool' : 'string';
}
