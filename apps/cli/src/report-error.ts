/** The one mapping from an error to what the user reads and the exit code scripts see. */
import { ApiError } from '@shoal/api';
import { isConnectionError } from '@shoal/client';
import { ExitError, UsageError } from './cli-errors.js';

export interface ErrorReport {
  /** For stderr; empty when the command already printed its errors. */
  message: string;
  exitCode: number;
}

export function reportError(err: unknown): ErrorReport {
  if (err instanceof ExitError) return { message: '', exitCode: err.exitCode };
  if (err instanceof UsageError) return { message: `error: ${err.message}\nSee 'shoalctl --help' for usage.`, exitCode: 2 };
  if (err instanceof ApiError) return { message: serverErrorLine(err), exitCode: 1 };
  if (isConnectionError(err)) {
    return { message: `error: cannot reach the API server (${(err as Error).message}); is shoal-apiserver running and is --server right?`, exitCode: 1 };
  }
  return { message: `error: ${err instanceof Error ? err.message : String(err)}`, exitCode: 1 };
}

/** `Error from server (NotFound): virtualmachines.shoal.dev "x" not found`, as kubectl prints it. */
export function serverErrorLine(err: ApiError, context?: string): string {
  return `Error from server (${err.reason}): ${context ? `${context}: ` : ''}${err.message}`;
}
