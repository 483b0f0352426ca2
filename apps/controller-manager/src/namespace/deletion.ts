/**
 * What a terminating namespace's status says while its contents go, and how often to look
 * again: pure functions over what one pass of reconcile.ts saw. The conditions and their
 * wording are Kubernetes' (pkg/controller/namespace/deletion/namespaced_resources_deleter.go),
 * so a user who knows `kubectl describe ns` reads them the same way:
 *
 *   NamespaceDeletionContentFailure  True: listing or deleting some kind failed (RBAC, a 5xx)
 *   NamespaceContentRemaining        True: objects are still there, being deleted
 *   NamespaceFinalizersRemaining     True: ...held by these finalizers (whose owners must act)
 */
import { setCondition, type Condition, type KindInfo, type KubeObject } from '@shoal/api';

export const CONTENT_FAILURE = 'NamespaceDeletionContentFailure';
export const CONTENT_REMAINING = 'NamespaceContentRemaining';
export const FINALIZERS_REMAINING = 'NamespaceFinalizersRemaining';

/** What one pass over a terminating namespace's contents found. */
export class ContentSummary {
  /** Per `plural.group`: objects still there after the pass (each being deleted). */
  readonly remaining = new Map<string, number>();
  /** Per finalizer: the remaining objects it holds. */
  readonly finalizers = new Map<string, number>();
  /** What could not be done, one line per verb and kind (the first error of each). */
  readonly failures: string[] = [];
  private readonly failedOps = new Set<string>();

  /** Notes an object that is still there: deleting, held by its finalizers. */
  remains(kind: KindInfo, object: Pick<KubeObject, 'metadata'>): void {
    const resource = `${kind.plural}.${kind.group}`;
    this.remaining.set(resource, (this.remaining.get(resource) ?? 0) + 1);
    for (const f of object.metadata.finalizers ?? []) this.finalizers.set(f, (this.finalizers.get(f) ?? 0) + 1);
  }

  /** Notes a failure to `what` (`delete virtualmachines`); only the first of each is kept. */
  failed(what: string, err: unknown): void {
    if (this.failedOps.has(what)) return;
    this.failedOps.add(what);
    this.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** Nothing left and nothing failed: the namespace itself may go. */
  get empty(): boolean {
    return this.remaining.size === 0 && this.failures.length === 0;
  }
}

const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The namespace's conditions after this pass (the others, if any, kept as they are). */
export function deletionConditions(existing: readonly Condition[] | undefined, s: ContentSummary, now: string): Condition[] {
  let next = setCondition(
    existing,
    s.failures.length
      ? {
          type: CONTENT_FAILURE,
          status: 'True',
          reason: 'ContentDeletionFailed',
          message: `Failed to delete all resource types, ${s.failures.length} remaining: ${s.failures.join(', ')}`,
        }
      : { type: CONTENT_FAILURE, status: 'False', reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
    now,
  );
  next = setCondition(
    next,
    s.remaining.size
      ? {
          type: CONTENT_REMAINING,
          status: 'True',
          reason: 'SomeResourcesRemain',
          message: `Some resources are remaining: ${sorted(s.remaining)
            .map(([r, n]) => `${r} has ${n} resource instances`)
            .join(', ')}`,
        }
      : { type: CONTENT_REMAINING, status: 'False', reason: 'ContentRemoved', message: 'All content successfully removed' },
    now,
  );
  return setCondition(
    next,
    s.finalizers.size
      ? {
          type: FINALIZERS_REMAINING,
          status: 'True',
          reason: 'SomeFinalizersRemain',
          message: `Some content in the namespace has finalizers remaining: ${sorted(s.finalizers)
            .map(([f, n]) => `${f} in ${n} resource instances`)
            .join(', ')}`,
        }
      : { type: FINALIZERS_REMAINING, status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
    now,
  );
}

const FIRST_LOOK_MS = 1_000;
const SLOWEST_LOOK_MS = 30_000;

/**
 * When to look again at a namespace whose contents are still being finalized: every second at
 * first (an agent stopping a VM takes seconds), then more rarely the longer it has been
 * terminating (a tenth of that, at most every 30 s), so namespaces stuck on a finalizer nobody
 * holds cost little. Computed from the deletionTimestamp, so a restarted controller picks up
 * the same pace.
 */
export function lookAgainAfterMs(deletionTimestamp: string | undefined, now: number): number {
  const since = deletionTimestamp ? Date.parse(deletionTimestamp) : NaN;
  const terminatingFor = Number.isFinite(since) ? Math.max(0, now - since) : 0;
  return Math.min(SLOWEST_LOOK_MS, Math.max(FIRST_LOOK_MS, Math.round(terminatingFor / 10)));
}
