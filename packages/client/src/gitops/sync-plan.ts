/**
 * What a GitSync applies from a commit's manifests, pure: each object resolved to its kind, put
 * in its namespace (spec.targetNamespace, else its own, else the sync's), labelled with the sync
 * that owns it, and ordered so that what others live in comes first — Namespaces, then the other
 * cluster-scoped objects (policies, priority classes, pools), then namespaced policy, Volumes,
 * VirtualMachines, and the rest. Prune runs in the reverse order.
 */
import { GITSYNC_NAME_LABEL, GITSYNC_NAMESPACE_LABEL, type KindInfo, type KubeObject } from '@shoal/api';
import { kindOfManifest, ManifestError } from '../apply/apply.js';
import { UnknownKindError } from '../kind-lookup.js';
import type { RepositoryManifest, SyncProblem } from './repository-manifests.js';

export interface SyncTarget {
  /** The GitSync's own namespace and name. */
  namespace: string;
  name: string;
  targetNamespace?: string;
}

export interface PlannedObject {
  file: string;
  kind: KindInfo;
  object: KubeObject;
  /** Unique per object: what an inventory entry is matched by. */
  id: string;
}

export const objectId = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ''}/${name}`;

/** Namespaced kinds that others in the namespace refer to: applied before Volumes and VMs. */
const NAMESPACED_POLICY = new Set(['Role', 'RoleBinding', 'ResourceQuota', 'Secret', 'PlacementPolicy', 'Network']);

export function applyRank(kind: KindInfo): number {
  if (kind.kind === 'Namespace') return 0;
  if (!kind.namespaced) return 1;
  if (NAMESPACED_POLICY.has(kind.kind)) return 2;
  if (kind.kind === 'Volume') return 3;
  if (kind.kind === 'VirtualMachine') return 4;
  return 5;
}

export function planSync(manifests: readonly RepositoryManifest[], target: SyncTarget): { objects: PlannedObject[]; problems: SyncProblem[] } {
  const objects: PlannedObject[] = [];
  const problems: SyncProblem[] = [];
  const seen = new Map<string, string>();
  for (const { file, object } of manifests) {
    const name = typeof object.metadata?.name === 'string' ? object.metadata.name : undefined;
    let kind: KindInfo;
    try {
      kind = kindOfManifest(object);
    } catch (err) {
      if (!(err instanceof ManifestError || err instanceof UnknownKindError)) throw err;
      problems.push({ file, ...(object.kind ? { kind: String(object.kind) } : {}), ...(name ? { name } : {}), field: 'kind', message: err.message });
      continue;
    }
    if (!name) {
      problems.push({ file, kind: kind.kind, field: 'metadata.name', message: 'Required value: a synced object needs a name' });
      continue;
    }
    const namespace = kind.namespaced ? (target.targetNamespace ?? object.metadata.namespace ?? target.namespace) : undefined;
    const id = objectId(kind.kind, namespace, name);
    const earlier = seen.get(id);
    if (earlier !== undefined) {
      problems.push({ file, kind: kind.kind, name, field: 'metadata.name', message: `Duplicate value: also defined in ${earlier}` });
      continue;
    }
    seen.set(id, file);
    const labels = { ...(object.metadata.labels ?? {}), [GITSYNC_NAME_LABEL]: target.name, [GITSYNC_NAMESPACE_LABEL]: target.namespace };
    const metadata = { ...object.metadata, labels, ...(namespace ? { namespace } : {}) };
    if (!namespace) delete metadata.namespace;
    objects.push({ file, kind, id, object: { ...object, apiVersion: kind.apiVersion, metadata } });
  }
  objects.sort((a, b) => applyRank(a.kind) - applyRank(b.kind));
  return { objects, problems };
}
