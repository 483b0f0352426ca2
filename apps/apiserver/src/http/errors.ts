/** Every failure leaves as a Kubernetes Status; nothing else is ever sent as an error body. */
import type { FastifyError, FastifyInstance } from 'fastify';
import Router from 'find-my-way';
import { ApiError, type StatusCause } from '@shoal/api';
import { etcdFailure, etcdFailureMessage } from '../storage/etcd-errors.js';

function fromFastify(err: FastifyError): ApiError | undefined {
  if (err.validation) {
    const causes: StatusCause[] = err.validation.map((v) => ({
      type: 'FieldValueInvalid',
      field: `${err.validationContext ?? 'request'}${v.instancePath.replace(/\//g, '.')}${(v.params as { missingProperty?: string })?.missingProperty ? `.${(v.params as { missingProperty: string }).missingProperty}` : ''}`,
      message: v.message ?? 'invalid',
    }));
    return new ApiError(400, 'BadRequest', `invalid request: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, { causes });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'UnsupportedMediaType', `unsupported media type; send application/json (or a patch media type for PATCH)`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'BadRequest', err.message);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new ApiError(err.statusCode, 'BadRequest', err.message);
  return undefined;
}

/** etcd unreachable, out of quorum or too slow: 503, so clients retry reads and try another apiserver; the message says whether a write may have happened. */
function fromEtcd(err: Error): ApiError | undefined {
  const failure = etcdFailure(err);
  if (failure) return new ApiError(503, 'ServiceUnavailable', etcdFailureMessage(failure, err), { retryAfterSeconds: 1 });
  if (/GRPCResourceExhast|request is too large/i.test(err.constructor?.name + err.message))
    return new ApiError(413, 'RequestEntityTooLarge', 'the object is too large for the store');
  // A paged list (or a forged continue token) at a revision etcd has not reached: Kubernetes' answer, 504 "Too large resource version".
  if (/required revision is a future revision/.test(err.message))
    return new ApiError(504, 'Timeout', 'Too large resource version: the store has not reached it yet', { retryAfterSeconds: 1 });
  return undefined;
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof Error) {
    const mapped = fromFastify(err as FastifyError) ?? fromEtcd(err);
    if (mapped) return mapped;
  }
  return new ApiError(500, 'InternalError', `an internal error occurred: ${(err as Error)?.message ?? String(err)}`);
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function registerErrorHandling(app: FastifyInstance): void {
  // Every route, so a path that exists for other methods is answered 405 with Allow, as Kubernetes does, not 404.
  const routes = Router();
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if ((METHODS as readonly string[]).includes(m)) routes.on(m as 'GET', r.url, () => undefined);
  });
  const allowedOn = (path: string) => METHODS.filter((m) => routes.find(m, path) !== null);
  app.setErrorHandler((err, req, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.code >= 500) req.log.error({ err }, 'request failed');
    if (apiErr.details?.retryAfterSeconds) void reply.header('Retry-After', String(apiErr.details.retryAfterSeconds));
    void reply.code(apiErr.code).type('application/json').send(apiErr.toStatus());
  });
  app.setNotFoundHandler((req, reply) => {
    const allowed = allowedOn(req.url.split('?')[0]!);
    if (allowed.length)
      return void reply
        .code(405)
        .header('Allow', allowed.join(', '))
        .type('application/json')
        .send(
          new ApiError(
            405,
            'MethodNotAllowed',
            `the server does not allow this method on the requested resource (${req.method} ${req.url.split('?')[0]}); allowed: ${allowed.join(', ')}`,
          ).toStatus(),
        );
    void reply
      .code(404)
      .type('application/json')
      .send(new ApiError(404, 'NotFound', `the server could not find the requested resource (${req.method} ${req.url.split('?')[0]})`).toStatus());
  });
}
