/** Kubernetes `Status` errors: the one error shape on the wire, used by server and clients alike. */
import { kinds } from './kinds.js';

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'Expired'
  | 'TooManyRequests'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'ServiceUnavailable'
  /**
   * Not one of Kubernetes' reasons (a kube-apiserver answers such cases 500 InternalError): a
   * component the apiserver relays to (a node agent) refused it or could not be trusted — a
   * configuration fault between the two, which neither a retry nor the caller can fix.
   */
  | 'BadGateway'
  | 'Timeout'
  | 'InternalError';

export interface StatusCause {
  type?: string;
  message: string;
  field?: string;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: StatusReason;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** An error that is answered as a Status object; anything else is a 500. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: Status['details'],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toStatus(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }

  static fromStatus(status: Status): ApiError {
    return new ApiError(status.code, status.reason ?? 'InternalError', status.message, status.details);
  }

  /** Errors worth retrying unchanged: the server or the store was briefly unavailable. */
  get retryable(): boolean {
    return this.code === 429 || this.code >= 500;
  }
}

interface Target {
  kind: string;
  name?: string;
  group?: string;
}

/** `virtualmachines.shoal.dev`, as Kubernetes names a resource in its messages: the plural from the kind list. */
function qualified(t: Target): string {
  const plural = kinds().find(t.kind)?.plural ?? t.kind.toLowerCase();
  return t.group ? `${plural}.${t.group}` : plural;
}

export const notFound = (t: Target) => new ApiError(404, 'NotFound', `${qualified(t)} "${t.name}" not found`, { name: t.name, group: t.group, kind: t.kind });

export const alreadyExists = (t: Target) =>
  new ApiError(409, 'AlreadyExists', `${qualified(t)} "${t.name}" already exists`, { name: t.name, group: t.group, kind: t.kind });

export const conflict = (t: Target, why: string) =>
  new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(t)} "${t.name}": ${why}`, {
    name: t.name,
    group: t.group,
    kind: t.kind,
  });

export const invalid = (t: Target, causes: StatusCause[]) =>
  new ApiError(
    422,
    'Invalid',
    `${t.kind}${t.name ? ` "${t.name}"` : ''} is invalid: ${causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ')}`,
    { name: t.name, group: t.group, kind: t.kind, causes },
  );

export const badRequest = (message: string, causes?: StatusCause[]) => new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);

export const gone = (message: string) => new ApiError(410, 'Expired', message);

export const isStatus = (body: unknown): body is Status => typeof body === 'object' && body !== null && (body as { kind?: unknown }).kind === 'Status';

/** The promise's value, or undefined when it failed with 404 NotFound (the object is gone: nothing left to do). */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}
