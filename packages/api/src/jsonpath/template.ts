/**
 * A kubectl JSONPath template, parsed once and run against any number of objects:
 * `{.metadata.name}`, `{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}`.
 */
import { findResults } from './evaluate.js';
import { parseTemplate, type Node } from './parse.js';
import { printResults } from './print.js';

export interface ExecuteOptions {
  /** A missing field prints nothing instead of failing (kubectl get's default). */
  allowMissingKeys?: boolean;
  /** Each node's results as an indented JSON array (`-o jsonpath-as-json`). */
  asJson?: boolean;
}

export class JsonPathTemplate {
  private readonly nodes: Node[];

  /** Throws JsonPathSyntaxError for an expression kubectl would refuse. */
  constructor(readonly text: string) {
    this.nodes = parseTemplate(text);
  }

  /** The whole output for `data`, or a JsonPathEvaluationError (nothing is printed halfway, as in kubectl). */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    return findResults(this.nodes, data, opts)
      .map((results) => printResults(results, opts.asJson))
      .join('');
  }
}
