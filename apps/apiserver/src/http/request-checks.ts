/**
 * Checks of a resource request's URL, whichever route serves it: the generic routes of every kind
 * and the subresources with routes of their own (a VM's log and binding). Registered once on the
 * root instance before any route, so a new route cannot miss them. A resource request is one
 * whose route names its resource in `config.resource` (what authorization and metrics read too).
 *  - A name or namespace in the path must be a path segment, as Kubernetes'
 *    path.IsValidPathSegmentName: not "." or "..", no "/" or "%" once decoded (400). Anything else
 *    that is not a valid name just names nothing (404), as in Kubernetes.
 *  - Whole-number query parameters are base 10, as Kubernetes parses them (strconv.ParseInt).
 *  - A resourceVersion parameter is one the server could have returned (registry/resource-version.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '@shoal/api';
import { checkResourceVersionParam } from '../registry/resource-version.js';

/** The whole-number query parameters of the API: lists and watches, deletes, a VM's log. */
const WHOLE_NUMBER_PARAMS = ['limit', 'timeoutSeconds', 'gracePeriodSeconds', 'tailLines'] as const;

const isResourceRequest = (req: FastifyRequest) => Boolean((req.routeOptions.config as { resource?: string }).resource);

function checkPathSegment(value: string | undefined, what: 'name' | 'namespace'): void {
  if (value === undefined) return;
  const why =
    value === '.' || value === '..'
      ? `may not be '${value}'`
      : value.includes('/')
        ? "may not contain '/'"
        : value.includes('%')
          ? "may not contain '%'"
          : undefined;
  if (why)
    throw badRequest(`${what === 'name' ? 'Name' : 'Namespace'} parameter invalid: ${JSON.stringify(value)}: ${why}`, [
      { field: what === 'name' ? 'metadata.name' : 'metadata.namespace', message: why },
    ]);
}

function checkWholeNumbers(query: Record<string, unknown>): void {
  for (const p of WHOLE_NUMBER_PARAMS) {
    const v = query[p];
    if (typeof v === 'string' && !/^-?\d+$/.test(v))
      throw badRequest(`invalid ${p} ${JSON.stringify(v.slice(0, 64))}: must be a whole number`, [{ field: p, message: 'not a whole number' }]);
  }
}

export function registerRequestChecks(app: FastifyInstance): void {
  // Before schema validation coerces them: ajv would read "0x10" as 16 and "1e3" as 1000.
  app.addHook('preValidation', (req, _reply, done) => {
    try {
      if (isResourceRequest(req)) checkWholeNumbers((req.query ?? {}) as Record<string, unknown>);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
  // Before any handler: a watch answers 200 before it starts, so a bad parameter must be refused here to get its 4xx.
  app.addHook('preHandler', (req, _reply, done) => {
    try {
      if (isResourceRequest(req)) {
        const params = (req.params ?? {}) as { namespace?: string; name?: string };
        checkPathSegment(params.namespace, 'namespace');
        checkPathSegment(params.name, 'name');
        checkResourceVersionParam((req.query as { resourceVersion?: string } | undefined)?.resourceVersion);
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  });
}
