/**
 * Conflicts of an apply: fields another manager owns that the apply would give a different value
 * (or add). Without force they refuse the apply with a 409 Conflict worded as Kubernetes words
 * it, one cause per field, so kubectl and users see the same message they know; with force the
 * applier takes the fields over.
 */
import { ApiError } from '@shoal/api';
import { pathString, type FieldPath, type FieldSet } from './field-set.js';
import type { Manager, Managers } from './managed-fields.js';

export interface Conflict {
  manager: Manager;
  path: FieldPath;
}

/** Each other manager's share of `changed`, by managerId (managers with none left out). */
export function ownedBy(managers: Managers, exceptId: string, changed: FieldSet): Map<string, FieldSet> {
  const out = new Map<string, FieldSet>();
  for (const [id, m] of managers) {
    if (id === exceptId) continue;
    const theirs = m.fields.intersection(changed);
    if (!theirs.empty) out.set(id, theirs);
  }
  return out;
}

export function conflictList(managers: Managers, owned: Map<string, FieldSet>): Conflict[] {
  return [...owned].flatMap(([id, set]) => set.paths().map((path) => ({ manager: managers.get(id)!, path })));
}

/**
 * `"kubectl"`, `"shoal-agent" with subresource "status" using shoal.dev/v1alpha1`: a manager as
 * Kubernetes names it in conflicts (by its identity, so without the time of its last write).
 */
export function describeManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === 'Update') s += ` using ${m.apiVersion}`;
  return s;
}

export function conflictError(conflicts: readonly Conflict[]): ApiError {
  const causes = conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with ${describeManager(c.manager)}`, field: pathString(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${describeManager(conflicts[0]!.manager)}: ${pathString(conflicts[0]!.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const who = describeManager(c.manager);
      byManager.set(who, [...(byManager.get(who) ?? []), pathString(c.path)]);
    }
    const lines = [...byManager.keys()].sort().flatMap((who) => [`conflicts with ${who}:`, ...byManager.get(who)!.map((p) => `- ${p}`)]);
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

/** Whether a 409 is an apply's field conflict (which trying again cannot cure), not a concurrent write. */
export function isApplyConflict(err: ApiError): boolean {
  return err.code === 409 && (err.details?.causes ?? []).some((c) => c.type === 'FieldManagerConflict');
}
