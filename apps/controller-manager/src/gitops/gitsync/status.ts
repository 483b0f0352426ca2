/**
 * A GitSync's status after a pass, pure (STYLE.md 3): the gitops controller is its only writer.
 * Every pass writes the three conditions Flux users read, each with the generation it judged:
 *
 *   outcome        Ready                          Reconciling                Stalled
 *   applied        True  ReconciliationSucceeded  False                      False
 *   progressing    Unknown Progressing            True  Progressing          False   (health checks waiting)
 *   invalid        False ValidationFailed         False                      True    (only a new commit or spec fixes it)
 *   failed         False <reason>                 True  ProgressingWithRetry False   (tried again after retryInterval)
 *   waiting        False <reason>                 True  ProgressingWithRetry False   (no artifact yet, a dependency not Ready)
 *   suspended      as it was                      False Suspended            False
 *
 * lastAppliedRevision moves only when a revision was applied in full; lastAttemptedRevision on
 * every pass that read one; the inventory only when the cluster holds what it lists.
 */
import { setCondition, type Condition, type GitSync, type GitSyncInventoryEntry, type GitSyncStatus } from '@shoal/api';
import type { SyncProblem } from '@shoal/client';

export const READY = 'Ready';
export const RECONCILING = 'Reconciling';
export const STALLED = 'Stalled';

export const SUCCEEDED = 'ReconciliationSucceeded';
export const PROGRESSING = 'Progressing';
export const RETRYING = 'ProgressingWithRetry';
export const VALIDATION_FAILED = 'ValidationFailed';
export const APPLY_FAILED = 'ApplyFailed';
export const PRUNE_FAILED = 'PruneFailed';
export const HEALTH_CHECK_FAILED = 'HealthCheckFailed';
export const ARTIFACT_FAILED = 'ArtifactFailed';
export const DEPENDENCY_NOT_READY = 'DependencyNotReady';
export const SUSPENDED = 'Suspended';

export type PassOutcome =
  | { type: 'applied'; revision: string; inventory: GitSyncInventoryEntry[] }
  | { type: 'progressing'; revision: string; inventory: GitSyncInventoryEntry[]; message: string }
  | { type: 'invalid'; revision: string; problems: SyncProblem[] }
  | { type: 'failed'; revision?: string; reason: string; message: string; problems?: SyncProblem[]; inventory?: GitSyncInventoryEntry[] }
  | { type: 'waiting'; reason: string; message: string }
  | { type: 'suspended' };

/** One line for a condition's message: the first problems, and how many more. */
export function problemsMessage(problems: readonly SyncProblem[]): string {
  const shown = problems.slice(0, 3).map(problemLine);
  const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : '';
  return `${shown.join('; ')}${more}`;
}

export function problemLine(p: SyncProblem): string {
  const object = p.kind || p.name ? `${p.kind ?? 'object'} ${p.name ?? ''}`.trim() : undefined;
  const where = [p.file, object, p.field].filter(Boolean).join(': ');
  return where ? `${where}: ${p.message}` : p.message;
}

export function computeStatus(sync: GitSync, outcome: PassOutcome, now: string, handledReconcileAt?: string): GitSyncStatus {
  const before = sync.status ?? {};
  const generation = sync.metadata.generation ?? 0;
  let conditions: Condition[] = before.conditions ?? [];
  const set = (type: string, status: Condition['status'], reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message, observedGeneration: generation }, now);
  };
  const status: GitSyncStatus = { ...before };
  if (handledReconcileAt) status.lastHandledReconcileAt = handledReconcileAt;
  switch (outcome.type) {
    case 'applied':
      set(READY, 'True', SUCCEEDED, `Applied revision: ${outcome.revision}`);
      set(RECONCILING, 'False', SUCCEEDED, `Applied revision: ${outcome.revision}`);
      set(STALLED, 'False', SUCCEEDED, '');
      Object.assign(status, { lastAppliedRevision: outcome.revision, lastAttemptedRevision: outcome.revision, inventory: outcome.inventory, errors: [] });
      break;
    case 'progressing':
      set(READY, 'Unknown', PROGRESSING, outcome.message);
      set(RECONCILING, 'True', PROGRESSING, outcome.message);
      set(STALLED, 'False', PROGRESSING, '');
      Object.assign(status, { lastAppliedRevision: outcome.revision, lastAttemptedRevision: outcome.revision, inventory: outcome.inventory, errors: [] });
      break;
    case 'invalid': {
      const message = `revision ${outcome.revision} applies nothing: ${problemsMessage(outcome.problems)}`;
      set(READY, 'False', VALIDATION_FAILED, message);
      set(RECONCILING, 'False', VALIDATION_FAILED, message);
      set(STALLED, 'True', VALIDATION_FAILED, message);
      Object.assign(status, { lastAttemptedRevision: outcome.revision, errors: outcome.problems });
      break;
    }
    case 'failed':
      set(READY, 'False', outcome.reason, outcome.message);
      set(RECONCILING, 'True', RETRYING, outcome.message);
      set(STALLED, 'False', outcome.reason, '');
      if (outcome.revision) status.lastAttemptedRevision = outcome.revision;
      if (outcome.inventory) status.inventory = outcome.inventory;
      status.errors = outcome.problems ?? [{ message: outcome.message }];
      break;
    case 'waiting':
      set(READY, 'False', outcome.reason, outcome.message);
      set(RECONCILING, 'True', RETRYING, outcome.message);
      set(STALLED, 'False', outcome.reason, '');
      break;
    case 'suspended':
      set(RECONCILING, 'False', SUSPENDED, 'suspended: nothing is applied nor pruned');
      set(STALLED, 'False', SUSPENDED, '');
      break;
  }
  status.conditions = conditions;
  status.observedGeneration = generation;
  return status;
}
