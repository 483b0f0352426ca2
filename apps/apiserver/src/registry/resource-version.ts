/**
 * The resourceVersion parameter of a list or watch: "" (none), "0" (any recent state) or an etcd
 * revision, the object or list resourceVersion the server returned. Checked at the HTTP edge for
 * every resource request (http/request-checks.ts) and again by the service that reads it.
 */
import { badRequest } from '@shoal/api';

/** A non-negative int64 JavaScript can hold exactly: etcd's revisions never get near the limit. */
export function checkResourceVersionParam(rv: string | undefined): void {
  if (rv === undefined || rv === '') return;
  if (!/^\d+$/.test(rv) || !Number.isSafeInteger(Number(rv)))
    throw badRequest(`invalid resourceVersion ${JSON.stringify(rv.slice(0, 64))}: must be a resourceVersion the server returned`, [
      { field: 'resourceVersion', message: 'not a resourceVersion' },
    ]);
}
