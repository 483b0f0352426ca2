/**
 * reconcile(ctx, namespaceName) for the namespace controller (STYLE.md 1–3): deleting a
 * Namespace deletes what is in it, as in Kubernetes. Every namespace is created with the
 * `shoal.dev/namespace-contents` finalizer (the apiserver adds it); once the namespace has a
 * deletionTimestamp this controller
 *
 *   lists every namespaced kind in it        a consistent read through the API, kind by kind
 *   deletes each object not already deleting the normal delete: an object's own finalizers are
 *                                            honoured, so it stays (deleting) until their owners
 *                                            let it go
 *   something failed                         → conditions + a Warning Event; thrown: back off
 *   something remains (finalizers)           → conditions (+ an Event when they change); look
 *                                            again soon (deletion.ts: lookAgainAfterMs)
 *   nothing remains                          → drops the finalizer: the namespace is gone
 *
 * Lists, not informers, for the contents: only terminating namespaces are read, so the
 * controller-manager does not cache every Event, Lease and Role of the cluster for a rare
 * operation (Kubernetes' namespace controller lists too). Deletes are idempotent and all the
 * state is in the API, so a pass cut short by a restart is simply done again.
 */
import { ApiError, findCondition, ignoreNotFound, NAMESPACE_FINALIZER, timestamp, type KindInfo, type KubeObject, type Namespace } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { CONTENT_FAILURE, ContentSummary, deletionConditions, FINALIZERS_REMAINING, lookAgainAfterMs } from './deletion.js';

export interface NamespaceContext {
  client: ShoalClient;
  namespaces: Pick<Informer<Namespace>, 'get'>;
  /** Every namespaced kind: what deleting a namespace deletes. */
  kinds: readonly KindInfo[];
  recorder: EventRecorder;
  log: Logger;
  now: () => number;
}

/** Deletes in flight at once, per namespace. */
const PARALLEL_DELETES = 8;

export async function reconcile(ctx: NamespaceContext, name: string): Promise<Result> {
  const ns = ctx.namespaces.get(name);
  if (!ns?.metadata.deletionTimestamp || !(ns.metadata.finalizers ?? []).includes(NAMESPACE_FINALIZER)) return {};

  const summary = await deleteContents(ctx, name);
  if (summary.empty) {
    await dropFinalizer(ctx, ns);
    ctx.log.info({ namespace: name }, 'namespace contents deleted; namespace finalized');
    return {};
  }
  await report(ctx, ns, summary);
  if (summary.failures.length) throw new Error(`namespace ${name}: ${summary.failures.join('; ')}`);
  return { requeueAfterMs: lookAgainAfterMs(ns.metadata.deletionTimestamp, ctx.now()) };
}

async function deleteContents(ctx: NamespaceContext, namespace: string): Promise<ContentSummary> {
  const summary = new ContentSummary();
  for (const kind of ctx.kinds) {
    let items: KubeObject[];
    try {
      items = (await ctx.client.listAll(kind, { namespace })).items;
    } catch (err) {
      summary.failed(`list ${kind.plural}`, err);
      continue;
    }
    await inParallel(items, PARALLEL_DELETES, async (object) => {
      if (object.metadata.deletionTimestamp) return summary.remains(kind, object);
      try {
        // The uid precondition: only the object listed, never one created under its name since.
        const after = await ctx.client.delete(kind, object.metadata.name!, { namespace, preconditions: { uid: object.metadata.uid } });
        // Answered with a deletionTimestamp and finalizers: still there until they are lifted.
        if ((after.metadata.finalizers ?? []).length) summary.remains(kind, after);
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) return;
        // Another object by that name: the next pass deletes it.
        if (err instanceof ApiError && err.code === 409) return summary.remains(kind, object);
        summary.failed(`delete ${kind.plural}`, err);
      }
    });
  }
  return summary;
}

/** Runs `fn` over the items with at most `limit` running at once. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void> | void): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

async function dropFinalizer(ctx: NamespaceContext, ns: Namespace): Promise<void> {
  const rest = (ns.metadata.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER);
  // Pinned to the version read: a finalizer someone else added meanwhile is not dropped with ours (409 → retry).
  await ignoreNotFound(
    ctx.client.patch(
      'namespace',
      ns.metadata.name!,
      { metadata: { resourceVersion: ns.metadata.resourceVersion, finalizers: rest.length ? rest : null } },
      { type: 'merge' },
    ),
  );
}

/** Writes the deletion conditions when they changed, with an Event for each new reason to look. */
async function report(ctx: NamespaceContext, ns: Namespace, summary: ContentSummary): Promise<void> {
  const before = ns.status?.conditions ?? [];
  const conditions = deletionConditions(before, summary, timestamp(ctx.now()));
  if (JSON.stringify(conditions) === JSON.stringify(before)) return;
  const name = ns.metadata.name!;
  const written = await ignoreNotFound(
    ctx.client.patch(
      'namespace',
      name,
      { metadata: { resourceVersion: ns.metadata.resourceVersion }, status: { conditions } },
      { type: 'merge', status: true },
    ),
  );
  if (!written) return;
  const changed = (type: string) => {
    const c = findCondition(conditions, type);
    return c?.status === 'True' && c.message !== findCondition(before, type)?.message ? c : undefined;
  };
  const failure = changed(CONTENT_FAILURE);
  if (failure) ctx.recorder.event(ns, 'Warning', CONTENT_FAILURE, `namespace ${name} cannot be emptied: ${failure.message}`);
  const waiting = changed(FINALIZERS_REMAINING);
  if (waiting) ctx.recorder.event(ns, 'Normal', FINALIZERS_REMAINING, `namespace ${name} waits for finalizers: ${waiting.message}`);
}
