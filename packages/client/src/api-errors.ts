/** Turns a non-2xx answer into the ApiError callers switch on, whether or not the body is a Status. */
import { ApiError, isStatus, type StatusReason } from '@shoal/api';

const REASONS: Record<number, StatusReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function reasonForCode(code: number): StatusReason {
  return REASONS[code] ?? (code >= 500 ? 'InternalError' : 'BadRequest');
}

/**
 * A Status body is used as is (its code wins only when it carries one). Anything else — a proxy's
 * HTML page, an empty body — becomes a synthetic Status with the reason the HTTP code implies,
 * the way client-go's `newUnstructuredResponseError` does.
 */
export function apiErrorFromResponse(statusCode: number, bodyText: string): ApiError {
  let body: unknown;
  try {
    body = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    body = undefined;
  }
  if (isStatus(body)) return ApiError.fromStatus({ ...body, code: body.code || statusCode });
  const snippet = bodyText.trim().slice(0, 200);
  const message = snippet ? `the server responded with HTTP ${statusCode}: ${snippet}` : `the server responded with HTTP ${statusCode} and no body`;
  return new ApiError(statusCode, reasonForCode(statusCode), message);
}

/** An ERROR watch event's object: a Status, or something we can only report. */
export function apiErrorFromWatchEvent(object: unknown): ApiError {
  if (isStatus(object)) return ApiError.fromStatus(object);
  return new ApiError(500, 'InternalError', `watch failed with an unexpected error object: ${JSON.stringify(object)?.slice(0, 200)}`);
}
