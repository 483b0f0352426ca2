/**
 * Which transport failures are worth retrying, and which of them are safe to retry for writes.
 *
 * A write (POST/PUT/PATCH/DELETE) is retried only when the TCP connection was never
 * established: then not one byte of the request left this process, so the server cannot have
 * acted on it. Once a connection existed, a reset or a timeout can happen after the server
 * committed the write but before the answer arrived; sending a create again would then answer
 * AlreadyExists, a PUT could clobber a newer version, a DELETE could remove a re-created object.
 * Those cases are the caller's to resolve (re-read and decide), so they surface as errors.
 */

/** The connection was never made: the request surely did not reach the server. */
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** The connection broke or stalled: the server may or may not have acted. */
const BROKEN_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Every error code found on err, its causes and (for AggregateError from dual-stack connects) its members. */
export function errorCodes(err: unknown, seen = new Set<unknown>()): string[] {
  if (err === null || typeof err !== 'object' || seen.has(err)) return [];
  seen.add(err);
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  const own = typeof e.code === 'string' ? [e.code] : [];
  const nested = Array.isArray(e.errors) ? e.errors.flatMap((x) => errorCodes(x, seen)) : [];
  return [...own, ...errorCodes(e.cause, seen), ...nested];
}

export function isNeverConnectedError(err: unknown): boolean {
  const codes = errorCodes(err);
  return codes.some((c) => NEVER_CONNECTED.has(c)) && !codes.some((c) => BROKEN_CONNECTION.has(c));
}

export function isConnectionError(err: unknown): boolean {
  return errorCodes(err).some((c) => NEVER_CONNECTED.has(c) || BROKEN_CONNECTION.has(c));
}
