/**
 * The body of a DELETE: Kubernetes' DeleteOptions, checked against schemas/options/delete-options.json
 * before anything is deleted. A body that is not a DeleteOptions at all is 400; one with a wrong
 * field is 422 naming it: a precondition or dryRun the server cannot read must never turn into an
 * unconditional, real delete. No body is no options.
 */
import { badRequest, invalid, validateOptions, type DeleteOptions, type Preconditions, type StatusCause } from '@shoal/api';
import { isDryRun } from './dry-run.js';

/** What a delete takes from its DeleteOptions (ResourceService.delete). */
export interface DeleteOptionsBody {
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

export function parseDeleteOptions(body: unknown): DeleteOptionsBody {
  if (body === undefined || body === null || body === '') return { dryRun: false };
  const { invalid: causes } = validateOptions('DeleteOptions', body);
  const wrong = (field: string) => causes.some((c: StatusCause) => c.field === field);
  // The body itself (field ""), its kind or its apiVersion: not DeleteOptions at all.
  if (wrong('')) throw badRequest('the body of a delete must be DeleteOptions');
  const o = body as DeleteOptions;
  if (wrong('kind'))
    throw badRequest(`the body of a delete must be DeleteOptions, not ${JSON.stringify(o.kind)}`, [{ field: 'kind', message: 'must be DeleteOptions' }]);
  if (wrong('apiVersion')) throw badRequest('DeleteOptions.apiVersion must be a string', [{ field: 'apiVersion', message: 'must be a string' }]);
  if (causes.length) throw invalid({ kind: 'DeleteOptions', group: 'meta.k8s.io' }, causes);
  return { preconditions: preconditionsOf(o.preconditions), dryRun: isDryRun(o.dryRun) };
}

/** null, for the whole or a field, is "not given", as in Kubernetes. */
function preconditionsOf(p: Preconditions | undefined): DeleteOptionsBody['preconditions'] {
  if (!p) return undefined;
  return { uid: p.uid ?? undefined, resourceVersion: p.resourceVersion ?? undefined };
}
