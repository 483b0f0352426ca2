/**
 * A GitRepository's status after a fetch, pure (STYLE.md 3); the gitrepository controller is its
 * only writer. Conditions as Flux's source-controller writes them:
 *
 *   fetched           Ready True Succeeded ("stored artifact for revision ..."); no Reconciling, no Stalled
 *   failed, retried   Ready False <reason> (GitOperationFailed, AuthenticationFailed) with what went
 *                     wrong; Reconciling True ProgressingWithRetry: it is tried again (backing off)
 *   failed for good   Ready False and Stalled True InvalidRef: the spec can never be fetched as it
 *                     is; tried again only when it changes
 *
 * status.artifact keeps the last commit fetched through failures (GitSyncs go on applying it);
 * its lastUpdateTime moves only when the commit changes. lastFetchTime is when the last fetch
 * ended, either way; lastHandledReconcileAt the reconcile-requested-at value it answered.
 */
import { removeCondition, setCondition, type Condition, type GitRepository, type GitRepositoryStatus } from '@shoal/api';

export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';
export const SUCCEEDED = 'Succeeded';
export const PROGRESSING_WITH_RETRY = 'ProgressingWithRetry';

export interface FetchedArtifact {
  commit: string;
  revision: string;
  message: string;
}

export interface FetchFailure {
  reason: string;
  message: string;
  /** Whether the same spec may be fetched later (false: Stalled). */
  retryable: boolean;
}

export type FetchOutcome = { artifact: FetchedArtifact } | { failure: FetchFailure };

export function computeStatus(repo: GitRepository, outcome: FetchOutcome, now: string, requestedAt: string | undefined): GitRepositoryStatus {
  const before = repo.status ?? {};
  let artifact = before.artifact;
  let conditions: Condition[];
  if ('artifact' in outcome) {
    const { commit, revision, message } = outcome.artifact;
    const lastUpdateTime = before.artifact?.commit === commit ? (before.artifact.lastUpdateTime ?? now) : now;
    artifact = { revision, commit, ...(message ? { message } : {}), lastUpdateTime };
    conditions = setCondition(
      before.conditions,
      { type: READY, status: 'True', reason: SUCCEEDED, message: `stored artifact for revision '${revision}'` },
      now,
    );
    conditions = removeCondition(removeCondition(conditions, RECONCILING), STALLED);
  } else {
    const { reason, message, retryable } = outcome.failure;
    conditions = setCondition(before.conditions, { type: READY, status: 'False', reason, message }, now);
    if (retryable) {
      conditions = setCondition(conditions, { type: RECONCILING, status: 'True', reason: PROGRESSING_WITH_RETRY, message: `retrying: ${message}` }, now);
      conditions = removeCondition(conditions, STALLED);
    } else {
      conditions = setCondition(conditions, { type: STALLED, status: 'True', reason, message }, now);
      conditions = removeCondition(conditions, RECONCILING);
    }
  }
  const lastHandledReconcileAt = requestedAt ?? before.lastHandledReconcileAt;
  return {
    ...(artifact ? { artifact } : {}),
    lastFetchTime: now,
    ...(lastHandledReconcileAt !== undefined ? { lastHandledReconcileAt } : {}),
    conditions,
    ...(repo.metadata.generation !== undefined ? { observedGeneration: repo.metadata.generation } : {}),
  };
}
