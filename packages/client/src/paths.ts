/** URL paths of the Shoal API, in the Kubernetes layout. */
import { API_VERSION, type KindInfo } from '@shoal/api';

export const API_PREFIX = `/apis/${API_VERSION}`;

/** etcd's snapshot, streamed by the apiserver to administrators (apps/apiserver/src/routes/etcd-snapshot.ts serves it). */
export const ETCD_SNAPSHOT_PATH = '/admin/etcd/snapshot';
/** The snapshot's length in bytes, sent before it. */
export const SNAPSHOT_SIZE_HEADER = 'x-shoal-snapshot-bytes';

export interface PathTarget {
  /** Omitted for cluster-scoped kinds; omitted for a namespaced kind means "all namespaces" (list/watch only). */
  namespace?: string;
  name?: string;
  subresource?: 'status';
}

export function resourcePath(kind: KindInfo, target: PathTarget = {}): string {
  const ns = kind.namespaced && target.namespace ? `/namespaces/${encodeURIComponent(target.namespace)}` : '';
  const name = target.name !== undefined ? `/${encodeURIComponent(target.name)}` : '';
  const sub = target.name !== undefined && target.subresource ? `/${target.subresource}` : '';
  return `${API_PREFIX}${ns}/${kind.plural}${name}${sub}`;
}
