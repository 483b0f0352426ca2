/**
 * kubectl's last-applied annotation kept in step with server-side apply (Kubernetes'
 * lastAppliedUpdater): when kubectl applies server-side to an object that carries the
 * annotation of an earlier client-side apply, the annotation becomes this configuration, so a
 * later client-side `kubectl apply` computes its three-way merge from what was really applied
 * last. Only for the field manager `kubectl`, as in Kubernetes: other appliers opt out by name.
 */
import { cloneJson, type KubeObject } from '@shoal/api';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
const KUBECTL_MANAGER = 'kubectl';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON as Go encodes an unstructured object: keys sorted, a newline at the end. */
function goJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : isObject(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted(v[k])]),
          )
        : v;
  return `${JSON.stringify(sorted(value))}\n`;
}

export function syncLastApplied(manager: string, merged: KubeObject, config: KubeObject): void {
  const annotations = merged.metadata.annotations;
  if (manager !== KUBECTL_MANAGER || annotations?.[LAST_APPLIED_ANNOTATION] === undefined) return;
  const applied = cloneJson(config);
  if (applied.metadata.annotations) {
    delete applied.metadata.annotations[LAST_APPLIED_ANNOTATION];
    if (Object.keys(applied.metadata.annotations).length === 0) delete applied.metadata.annotations;
  }
  annotations[LAST_APPLIED_ANNOTATION] = goJson(applied);
}
