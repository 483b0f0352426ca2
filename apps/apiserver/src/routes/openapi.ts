/**
 * OpenAPI v3 as Kubernetes serves it: `/openapi/v3` indexes group-versions, and the group
 * document carries `x-kubernetes-group-version-kind`, which is what makes `kubectl apply`
 * validate server-side and `kubectl explain` work. The document itself is @fastify/swagger's,
 * collected from the routes' schemas.
 */
import type { FastifyInstance } from 'fastify';
import { API_VERSION, ApiError } from '@shoal/api';

const GROUP_DOC_PATH = `/openapi/v3/apis/${API_VERSION}`;

type Doc = { paths: Record<string, unknown>; components?: { schemas?: Record<string, unknown> } };

export async function openapiRoutes(app: FastifyInstance): Promise<void> {
  let groupDoc: string | undefined;
  const hidden = { schema: { hide: true } };
  app.get('/openapi/v3', hidden, async () => ({ paths: { [`apis/${API_VERSION}`]: { serverRelativeURL: GROUP_DOC_PATH } } }));
  app.get(GROUP_DOC_PATH, hidden, async (_req, reply) => {
    groupDoc ??= JSON.stringify(app.swagger() as unknown as Doc);
    return reply.type('application/json').send(groupDoc);
  });
  // kubectl also probes v2, which it wants as protobuf; it carries on without it.
  app.get('/openapi/v2', hidden, async () => {
    throw new ApiError(404, 'NotFound', 'OpenAPI v2 is not served; use /openapi/v3');
  });
}
