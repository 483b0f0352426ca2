/** Every failure leaves as a Kubernetes Status; nothing else is ever sent as an error body. */
import type { FastifyError, FastifyInstance } from 'fastify';
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
  if (/GRPCResourceExhast|request is too large/i.test(err.constructor?.name + err.message)) return new ApiError(413, 'RequestEntityTooLarge', 'the object is too large for the store');
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

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.code >= 500) req.log.error({ err }, 'request failed');
    if (apiErr.details?.retryAfterSeconds) void reply.header('Retry-After', String(apiErr.details.retryAfterSeconds));
    void reply.code(apiErr.code).type('application/json').send(apiErr.toStatus());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type('application/json')
      .send(new ApiError(404, 'NotFound', `the server could not find the requested resource (${req.method} ${req.url.split('?')[0]})`).toStatus());
  });
}
