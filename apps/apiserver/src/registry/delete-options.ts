/**
 * The body of a DELETE: Kubernetes' DeleteOptions, checked before anything is deleted. A body
 * that is not a well-formed DeleteOptions is refused (400 when it is not one at all, 422 with
 * the field when a field is wrong): a precondition or dryRun the server cannot read must never
 * turn into an unconditional, real delete.
 */
import { badRequest, invalid, type StatusCause } from '@shoal/api';

export interface DeleteOptionsBody {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

const PROPAGATION = ['Orphan', 'Background', 'Foreground'];

export function parseDeleteOptions(body: unknown): DeleteOptionsBody {
  if (body === undefined || body === null || body === '') return { dryRun: false };
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body of a delete must be DeleteOptions');
  const o = body as Record<string, unknown>;
  if (o.kind !== undefined && o.kind !== 'DeleteOptions') throw badRequest(`the body of a delete must be DeleteOptions, not ${JSON.stringify(o.kind)}`, [{ field: 'kind', message: 'must be DeleteOptions' }]);
  if (o.apiVersion !== undefined && typeof o.apiVersion !== 'string') throw badRequest('DeleteOptions.apiVersion must be a string', [{ field: 'apiVersion', message: 'must be a string' }]);
  const causes: StatusCause[] = [];
  const wrong = (field: string, message: string) => causes.push({ field, message, type: 'FieldValueInvalid' });
  let preconditions: DeleteOptionsBody['preconditions'];
  if (o.preconditions !== undefined && o.preconditions !== null) {
    if (typeof o.preconditions !== 'object' || Array.isArray(o.preconditions)) wrong('preconditions', 'must be an object with uid and/or resourceVersion');
    else {
      const p = o.preconditions as Record<string, unknown>;
      if (p.uid !== undefined && p.uid !== null && typeof p.uid !== 'string') wrong('preconditions.uid', 'must be a string');
      if (p.resourceVersion !== undefined && p.resourceVersion !== null && (typeof p.resourceVersion !== 'string' || !/^\d*$/.test(p.resourceVersion)))
        wrong('preconditions.resourceVersion', `Invalid value: ${JSON.stringify(p.resourceVersion)}: must be a resourceVersion the server returned`);
      preconditions = { uid: (p.uid as string | null) ?? undefined, resourceVersion: (p.resourceVersion as string | null) ?? undefined };
    }
  }
  let dryRun = false;
  if (o.dryRun !== undefined && o.dryRun !== null) {
    if (!Array.isArray(o.dryRun)) wrong('dryRun', 'must be a list; the only value is "All"');
    else
      o.dryRun.forEach((v, i) => {
        if (v !== 'All') wrong(`dryRun[${i}]`, `Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
        else dryRun = true;
      });
  }
  if (o.propagationPolicy !== undefined && o.propagationPolicy !== null && !PROPAGATION.includes(o.propagationPolicy as string))
    wrong('propagationPolicy', `Unsupported value: ${JSON.stringify(o.propagationPolicy)}: supported values: ${PROPAGATION.map((p) => `"${p}"`).join(', ')}`);
  if (o.gracePeriodSeconds !== undefined && o.gracePeriodSeconds !== null && !(Number.isSafeInteger(o.gracePeriodSeconds) && (o.gracePeriodSeconds as number) >= 0))
    wrong('gracePeriodSeconds', 'must be a whole number of seconds, 0 or more');
  if (o.orphanDependents !== undefined && o.orphanDependents !== null && typeof o.orphanDependents !== 'boolean') wrong('orphanDependents', 'must be true or false');
  if (causes.length) throw invalid({ kind: 'DeleteOptions', group: 'meta.k8s.io' }, causes);
  return { preconditions, dryRun };
}
