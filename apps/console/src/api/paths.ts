/** URLs of the Shoal API the console calls, as Kubernetes lays them out. */
export const API_ROOT = '/apis/shoal.dev/v1alpha1';

export interface ResourceRef {
  plural: string;
  /** Absent for a cluster-scoped kind, or for a list across every namespace. */
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(r: ResourceRef): string {
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  const name = r.name ? `/${encodeURIComponent(r.name)}` : '';
  const sub = r.name && r.subresource ? `/${r.subresource}` : '';
  return `${API_ROOT}${ns}/${r.plural}${name}${sub}`;
}

/** A path with its query string; parameters that are undefined or empty are left out. */
export function withQuery(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
