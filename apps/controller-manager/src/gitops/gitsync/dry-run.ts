/**
 * The check that makes a commit all or nothing: every object is applied with dryRun=All first, as
 * the identity the sync applies as, so the apiserver's own validation, admission (quotas,
 * priority) and RBAC judge it exactly as the real apply would. An object whose namespace this
 * same commit creates cannot be dry-run yet (the namespace is not there); it is checked against
 * its kind's schema here instead, and the apiserver judges the rest when it is applied.
 *
 * A problem the commit itself causes (an invalid field, an unknown kind) is `invalid`: no retry
 * fixes it. A refusal of rights (403) may be fixed by a RoleBinding, so it is retried.
 */
import { ApiError, GITOPS_FIELD_MANAGER, validateObject, type StatusCause } from '@shoal/api';
import type { PlannedObject, ShoalClient, SyncProblem } from '@shoal/client';

export interface DryRunVerdict {
  invalid: SyncProblem[];
  forbidden: SyncProblem[];
}

const describe = (o: PlannedObject) => ({ file: o.file, kind: o.kind.kind, name: o.object.metadata.name! });

export function problemsOf(o: PlannedObject, err: ApiError): SyncProblem[] {
  const causes: StatusCause[] = err.details?.causes ?? [];
  if (causes.length === 0) return [{ ...describe(o), message: err.message }];
  return causes.map((c) => ({ ...describe(o), ...(c.field ? { field: c.field } : {}), message: c.message ?? err.message }));
}

export async function dryRunAll(applier: ShoalClient, objects: readonly PlannedObject[], signal: AbortSignal): Promise<DryRunVerdict> {
  const created = new Set(objects.filter((o) => o.kind.kind === 'Namespace').map((o) => o.object.metadata.name!));
  const verdict: DryRunVerdict = { invalid: [], forbidden: [] };
  for (const o of objects) {
    try {
      // The PATCH alone: serverSideApply's GET (to say created or unchanged) tells a dry run nothing.
      await applier.patch(o.kind, o.object.metadata.name!, o.object, {
        type: 'apply',
        namespace: o.object.metadata.namespace,
        fieldManager: GITOPS_FIELD_MANAGER,
        force: true,
        dryRun: true,
        fieldValidation: 'Strict',
        signal,
      });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const namespace = o.object.metadata.namespace;
      if (err.code === 404 && namespace && created.has(namespace)) verdict.invalid.push(...schemaProblems(o));
      else if (err.code === 403) verdict.forbidden.push({ ...describe(o), message: err.message });
      else if (err.code === 400 || err.code === 404 || err.code === 409 || err.code === 422) verdict.invalid.push(...problemsOf(o, err));
      else throw err;
    }
  }
  return verdict;
}

function schemaProblems(o: PlannedObject): SyncProblem[] {
  const { invalid, unknown } = validateObject(o.kind, o.object);
  return [...invalid, ...unknown].map((c) => ({ ...describe(o), ...(c.field ? { field: c.field } : {}), message: c.message ?? 'invalid' }));
}
