/**
 * What a reconcile answers — controller-runtime's `reconcile.Result` and `TerminalError`
 * (pkg/reconcile/reconcile.go), with milliseconds instead of a Duration.
 *
 *   return {}                       done: forget the key's failures
 *   return { requeueAfterMs: 30e3 } done for now: look again later (polling)
 *   throw err                       failed: retry with per-key exponential backoff
 *   throw new TerminalError(...)    failed for good: record it, never retry on our own
 *
 * Never throw and ask for a requeue at once: a throw already requeues.
 */
export interface Result {
  /** Reconcile this key again after this many milliseconds (0: right away, still rate limited by nothing but dedupe). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<Result>;

/** An error that retrying will not fix (bad spec, missing permission): recorded, not retried. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export const isTerminalError = (err: unknown): err is TerminalError => err instanceof TerminalError;
