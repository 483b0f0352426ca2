/**
 * Pages are addressed by the URL's fragment (`#/vms/default/web`), so the server serves one
 * index.html for the whole console and every page can be bookmarked or reloaded. The list's
 * filters are in the fragment too (`#/vms?namespace=default&phase=Running`).
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'vms'; query: URLSearchParams }
  | { page: 'vm'; namespace: string; name: string }
  | { page: 'operations'; query: URLSearchParams }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'overview' };
  if (parts[0] === 'vms' && parts.length === 1) return { page: 'vms', query };
  if (parts[0] === 'vms' && parts.length === 3) return { page: 'vm', namespace: parts[1]!, name: parts[2]! };
  if (parts[0] === 'operations' && parts.length === 1) return { page: 'operations', query };
  return { page: 'not-found', path };
}

const withParams = (path: string, params: Record<string, string | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
};

export const links = {
  overview: () => '#/',
  vms: (filters: Record<string, string | undefined> = {}) => withParams('#/vms', filters),
  vm: (namespace: string, name: string) => `#/vms/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
  operations: (params: Record<string, string | undefined> = {}) => withParams('#/operations', params),
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
