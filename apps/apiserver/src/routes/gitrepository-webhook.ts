/**
 * `POST /hooks/v1/namespaces/{ns}/gitrepositories/{name}`: a git host says a repository was
 * pushed to, and its GitRepository is fetched at once instead of at its next interval.
 *
 * A git host cannot hold a user's token, so this path is outside user authentication and
 * authorization (auth/plugin.ts): the call authenticates with the token in the Secret its
 * GitRepository's spec.webhookSecretRef names (key `token`), as a bearer token or as the key of a
 * GitHub-style body signature (auth/webhook-token.ts).
 *
 *   no such GitRepository, or one without spec.webhookSecretRef   404, the same for both: a caller
 *                                                                 learns nothing it could not guess
 *   a wrong token, or a Secret without a token                   401
 *   the right one                                                the annotation
 *     shoal.dev/reconcile-requested-at set to the current time (the apiserver writes it itself,
 *     through the registry), which the gitrepository controller answers with a fetch; 202
 *   more than WEBHOOK_BURST calls at once from one address to one repository   429
 *
 * Bodies are read whole, whatever their type (the signature covers the raw bytes), up to
 * MAX_WEBHOOK_BODY (413 past it); nothing in them is used. Every call is counted by its answer
 * in shoal_apiserver_gitrepository_webhook_calls_total.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import {
  ApiError,
  RECONCILE_REQUESTED_ANNOTATION,
  WEBHOOK_TOKEN_KEY,
  type GitRepository,
  type KindInfo,
  type KubeObject,
  type Secret,
  type Status,
} from '@shoal/api';
import { webhookTokenMatches } from '../auth/webhook-token.js';
import { TokenBuckets } from '../http/rate-limit.js';
import type { ResourceService } from '../registry/resource-service.js';

/** GitHub caps its payloads at 25 MB, but a push's is a few KiB to a few hundred; nothing in it is read. */
export const MAX_WEBHOOK_BODY = 1024 * 1024;
/** Calls one address may make to one repository at once, then one a second: every call after the first few only asks for the same fetch again. */
const WEBHOOK_BURST = 10;
const WEBHOOK_PER_SECOND = 1;

const calls = new Counter({
  name: 'shoal_apiserver_gitrepository_webhook_calls_total',
  help: 'Calls of GitRepository webhooks, by the code answered (202 accepted, 401 bad token, 404 no such webhook, 413, 429).',
  labelNames: ['code'],
});

export interface GitRepositoryWebhookOptions {
  kinds: KindInfo[];
  /** Where the GitRepository and its Secret are read: the watch cache, so a flood of calls costs etcd nothing. */
  objects: { getObject(kind: KindInfo, namespace: string | undefined, name: string): KubeObject | undefined };
  service: Pick<ResourceService, 'patch'>;
}

type Req = FastifyRequest<{ Params: { namespace: string; name: string }; Body: Buffer | undefined }>;

const ACCEPTED: Omit<Status, 'message'> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 202 };

export async function gitRepositoryWebhookRoutes(app: FastifyInstance, opts: GitRepositoryWebhookOptions): Promise<void> {
  const repoKind = opts.kinds.find((k) => k.kind === 'GitRepository');
  const secretKind = opts.kinds.find((k) => k.kind === 'Secret');
  if (!repoKind || !secretKind) throw new Error('gitrepository-webhook: the GitRepository and Secret kinds must be loaded');
  const buckets = new TokenBuckets(WEBHOOK_PER_SECOND, WEBHOOK_BURST);

  // This plugin only: the body as the bytes that were sent, of any type or none.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BODY }, (_req, body, done) => done(null, body));
  app.addHook('onResponse', (_req, reply, done) => {
    calls.inc({ code: String(reply.statusCode) });
    done();
  });

  const notFound = (namespace: string, name: string) =>
    new ApiError(404, 'NotFound', `no webhook for gitrepository "${name}" in namespace "${namespace}"`, {
      name,
      group: repoKind.group,
      kind: 'gitrepositories',
    });

  app.post('/hooks/v1/namespaces/:namespace/gitrepositories/:name', {
    bodyLimit: MAX_WEBHOOK_BODY,
    schema: {
      tags: ['gitrepositories'],
      operationId: 'triggerNamespacedGitRepositoryWebhook',
      summary: 'Ask for a fetch of a GitRepository now (a git host calls it on a push); authenticated by the token of its spec.webhookSecretRef',
      params: {
        type: 'object',
        required: ['namespace', 'name'],
        properties: { namespace: { type: 'string' }, name: { type: 'string' } },
      },
      response: { 202: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' }, default: { $ref: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status#' } },
    },
    // Named as a resource for metrics and the path checks (request-checks.ts); authorization does not see it.
    config: { resource: 'gitrepositories/webhook', verb: 'create' },
    handler: async (req: Req, reply) => {
      const { namespace, name } = req.params;
      const wait = buckets.take(`${req.ip} ${namespace}/${name}`, Date.now());
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        throw new ApiError(429, 'TooManyRequests', `too many webhook calls for gitrepository "${name}"; try again in ${wait}s`, { retryAfterSeconds: wait });
      }
      const repo = opts.objects.getObject(repoKind, namespace, name) as GitRepository | undefined;
      const secretName = repo?.spec.webhookSecretRef?.name;
      if (!repo || !secretName) throw notFound(namespace, name);
      const secret = opts.objects.getObject(secretKind, namespace, secretName) as Secret | undefined;
      const encoded = secret?.data?.[WEBHOOK_TOKEN_KEY];
      const token = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
      const given = { authorization: req.headers.authorization, signature256: header(req, 'x-hub-signature-256') };
      if (!webhookTokenMatches(given, req.body ?? Buffer.alloc(0), token)) {
        req.log.info({ namespace, name, secret: secretName, found: Boolean(token) }, 'webhook call refused');
        throw new ApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const requestedAt = new Date().toISOString();
      try {
        await opts.service.patch(
          { kind: repoKind, namespace, name },
          'merge',
          { metadata: { annotations: { [RECONCILE_REQUESTED_ANNOTATION]: requestedAt } } },
          { fieldValidation: 'Strict', dryRun: false },
        );
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) throw notFound(namespace, name);
        throw err;
      }
      req.log.info({ namespace, name, requestedAt }, 'webhook: fetch requested');
      return reply.code(202).send({ ...ACCEPTED, message: `a fetch of gitrepository ${namespace}/${name} was requested at ${requestedAt}` });
    },
  });
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
