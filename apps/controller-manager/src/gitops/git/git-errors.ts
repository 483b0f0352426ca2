/**
 * Why a fetch or checkout failed, as the GitRepository's Ready condition tells it: each error
 * names its reason (Flux's), and whether trying again can help.
 *
 *   GitOperationFailed    git failed (unreachable, not a repository, no such branch, timed out): retried
 *   AuthenticationFailed  the Secret of spec.secretRef is missing or holds no usable credentials: retried
 *   InvalidRef            spec.ref can never be resolved (a bad semver range, a malformed name): not retried
 *
 * Messages never hold credentials: git's output is cleaned of them before it gets here (git-command.ts).
 */

export const GIT_OPERATION_FAILED = 'GitOperationFailed';
export const AUTHENTICATION_FAILED = 'AuthenticationFailed';
export const INVALID_REF = 'InvalidRef';

export abstract class GitCacheError extends Error {
  abstract readonly reason: string;
  /** Whether the same spec may succeed on a later try (the remote, the Secret or the network may change). */
  abstract readonly retryable: boolean;
}

export class GitOperationError extends GitCacheError {
  readonly reason = GIT_OPERATION_FAILED;
  readonly retryable = true;
  constructor(
    message: string,
    /** The deadline of spec.timeout passed. */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'GitOperationError';
  }
}

export class CredentialsError extends GitCacheError {
  readonly reason = AUTHENTICATION_FAILED;
  readonly retryable = true;
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsError';
  }
}

export class InvalidRefError extends GitCacheError {
  readonly reason = INVALID_REF;
  readonly retryable = false;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidRefError';
  }
}
