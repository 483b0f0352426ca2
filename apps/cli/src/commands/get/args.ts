/** What `get` is asked: its arguments (command.ts declares them to yargs) and the objects they name. */
import type { KindInfo } from '@shoal/api';
import type { GlobalArgs } from '../../global-options.js';

export interface GetArgs extends GlobalArgs {
  kind: string;
  names: string[];
  /** As typed: `wide`, `jsonpath={...}`, ... (output-format.ts reads it). */
  output: string;
  selector?: string;
  fieldSelector?: string;
  allNamespaces: boolean;
  watch: boolean;
  showLabels: boolean;
  headers: boolean;
  showManagedFields?: boolean;
}

export interface GetTarget {
  kind: KindInfo;
  /** Undefined: all namespaces (or a cluster-scoped kind). */
  namespace: string | undefined;
  names: string[];
  labelSelector?: string;
  fieldSelector?: string;
}
