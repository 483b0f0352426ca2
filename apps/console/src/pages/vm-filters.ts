/**
 * The VM list's filters — namespace, label selector, node, phase — as the page's URL carries
 * them and as the API takes them: the namespace in the path, the labels as labelSelector, node
 * and phase as a fieldSelector on spec.nodeName and status.phase. The server filters the list
 * and the watch alike, and tells the watch when a VM starts or stops matching (a VM whose
 * phase changes leaves a list filtered by its old phase), so the page holds only what it shows.
 */
import type { Selectors } from '../api/list-watch.js';
import { resourcePath } from '../api/paths.js';

export interface VmFilters {
  namespace?: string;
  label?: string;
  node?: string;
  phase?: string;
}

export const FILTER_KEYS = ['namespace', 'label', 'node', 'phase'] as const;

export function filtersFromQuery(query: URLSearchParams): VmFilters {
  const f: VmFilters = {};
  for (const k of FILTER_KEYS) {
    const v = query.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

/** As Kubernetes' fields.EscapeValue: a value may hold `\`, `,` and `=` only escaped. */
const escapeFieldValue = (v: string) => v.replace(/[\\,=]/g, (c) => `\\${c}`);

export function vmListRequest(f: VmFilters): { path: string; selectors: Selectors } {
  const fields = [f.node ? `spec.nodeName=${escapeFieldValue(f.node)}` : '', f.phase ? `status.phase=${escapeFieldValue(f.phase)}` : ''].filter(Boolean);
  return {
    path: resourcePath({ plural: 'virtualmachines', namespace: f.namespace }),
    selectors: {
      ...(f.label ? { labelSelector: f.label } : {}),
      ...(fields.length ? { fieldSelector: fields.join(',') } : {}),
    },
  };
}
