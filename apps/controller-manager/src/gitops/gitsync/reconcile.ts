/**
 * reconcile(ctx, 'namespace/name') for the gitops controller's GitSyncs (STYLE.md 1–3). A pass:
 *
 *   suspended                    → nothing applied nor pruned; status says so
 *   source without an artifact,  → Ready False (ArtifactFailed, DependencyNotReady); tried again
 *   or a dependency not Ready      after retryInterval, or at once when the source or dependency changes
 *   the commit's manifests       → read (every file), planned (planSync), and checked whole:
 *                                  a file, object or field that is wrong makes the pass `invalid`
 *                                  and nothing of the commit is applied (dry-run.ts); the last good
 *                                  revision stays in force
 *   inventory recorded first     → the entries of this commit join the inventory before any
 *                                  write, so a controller killed mid-apply leaves what it made
 *                                  findable: the next leader applies the same revision again
 *                                  (server-side apply: what is there already is not written
 *                                  twice) and prunes what the commit dropped
 *   apply                        → server-side apply, field manager gitops, forced: the repository
 *                                  wins over hand edits of the fields it sets (drift, reported as
 *                                  an Event when the revision did not change), and leaves alone
 *                                  the fields others own
 *   prune (spec.prune)           → prune.ts
 *   health (spec.wait)           → Ready only once its VMs run; past spec.timeout the pass fails
 *   then                         → again after spec.interval (drift), at once on a new revision
 */
import {
  ApiError,
  findCondition,
  GITOPS_FIELD_MANAGER,
  objectKey,
  parseDuration,
  RECONCILE_REQUESTED_ANNOTATION,
  timestamp,
  type GitRepository,
  type GitSync,
  type GitSyncInventoryEntry,
} from '@shoal/api';
import { planSync, readRepositoryManifests, serverSideApply, type Informer, type PlannedObject, type ShoalClient, type SyncProblem } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { dryRunAll, problemsOf } from './dry-run.js';
import { vmsNotRunning } from './health.js';
import { entryId, prune } from './prune.js';
import {
  APPLY_FAILED,
  ARTIFACT_FAILED,
  computeStatus,
  DEPENDENCY_NOT_READY,
  HEALTH_CHECK_FAILED,
  problemsMessage,
  PRUNE_FAILED,
  READY,
  VALIDATION_FAILED,
  type PassOutcome,
} from './status.js';

/** How often health checks look again while VMs boot. */
const HEALTH_POLL_MS = 1000;

/** Where a GitSync reads a commit's files. */
export interface ArtifactSource {
  checkout(repo: GitRepository, commit: string, signal: AbortSignal): Promise<string>;
}

export interface GitSyncContext {
  /** The controller's own client: status, reads, prune's look at the live object. */
  client: ShoalClient;
  /** The client applies and deletes go through: impersonating spec.serviceAccountName when set. */
  applierFor(sync: GitSync): ShoalClient;
  syncs: Pick<Informer<GitSync>, 'get'>;
  repositories: Pick<Informer<GitRepository>, 'get'>;
  source: ArtifactSource;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  /** Per sync key: since when its VMs of a revision have been waited for (spec.wait). */
  healthSince: Map<string, { revision: string; since: number }>;
  now?: () => number;
}

const durationMs = (text: string | undefined, fallback: string) => parseDuration(text ?? fallback);

export async function reconcile(ctx: GitSyncContext, key: string): Promise<Result> {
  const sync = ctx.syncs.get(key);
  if (!sync || sync.metadata.deletionTimestamp) {
    ctx.healthSince.delete(key);
    return {};
  }
  const interval = durationMs(sync.spec.interval, '5m');
  const retry = durationMs(sync.spec.retryInterval ?? sync.spec.interval, '5m');
  const outcome = await pass(ctx, key, sync);
  await writeStatus(ctx, sync, outcome);
  switch (outcome.type) {
    case 'applied':
      return { requeueAfterMs: interval };
    case 'progressing':
      return { requeueAfterMs: Math.min(HEALTH_POLL_MS, interval) };
    case 'invalid':
    case 'suspended':
      return {};
    default:
      return { requeueAfterMs: retry };
  }
}

async function pass(ctx: GitSyncContext, key: string, sync: GitSync): Promise<PassOutcome> {
  if (sync.spec.suspend) return { type: 'suspended' };
  const namespace = sync.metadata.namespace!;
  const repo = ctx.repositories.get(`${namespace}/${sync.spec.sourceRef.name}`);
  const artifact = repo?.status?.artifact;
  if (!repo || !artifact)
    return {
      type: 'waiting',
      reason: ARTIFACT_FAILED,
      message: repo ? `GitRepository ${repo.metadata.name} has no revision yet` : `GitRepository ${sync.spec.sourceRef.name} not found`,
    };
  const blocking = dependenciesNotReady(ctx, sync);
  if (blocking.length > 0) return { type: 'waiting', reason: DEPENDENCY_NOT_READY, message: `dependencies not ready: ${blocking.join(', ')}` };

  const revision = artifact.revision;
  const signal = AbortSignal.timeout(durationMs(sync.spec.timeout, '5m'));
  let root: string;
  try {
    root = await ctx.source.checkout(repo, artifact.commit, signal);
  } catch (err) {
    return { type: 'failed', revision, reason: ARTIFACT_FAILED, message: `cannot read revision ${revision}: ${(err as Error).message.split('\n')[0]}` };
  }
  const read = await readRepositoryManifests(root, sync.spec.path ?? './');
  const plan = planSync(read.manifests, { namespace, name: sync.metadata.name!, targetNamespace: sync.spec.targetNamespace });
  const problems = [...read.problems, ...plan.problems];
  if (problems.length > 0) return { type: 'invalid', revision, problems };

  const applier = ctx.applierFor(sync);
  const verdict = await dryRunAll(applier, plan.objects, signal);
  if (verdict.invalid.length > 0) return { type: 'invalid', revision, problems: [...verdict.invalid, ...verdict.forbidden] };
  if (verdict.forbidden.length > 0)
    return { type: 'failed', revision, reason: APPLY_FAILED, message: problemsMessage(verdict.forbidden), problems: verdict.forbidden };

  const before = sync.status?.inventory ?? [];
  const pending = await recordPending(ctx, sync, before, plan.objects, revision);
  const applied = await applyAll(ctx, sync, applier, plan.objects, revision, signal);
  if ('failure' in applied)
    return { type: 'failed', revision, reason: APPLY_FAILED, message: problemsMessage([applied.failure]), problems: [applied.failure], inventory: pending };

  const current = new Set(applied.inventory.map(entryId));
  const stale = sync.spec.prune === false ? [] : pending.filter((e) => !current.has(entryId(e)));
  const pruned = await prune(ctx.client, applier, sync, stale, signal);
  if (pruned.deleted > 0) ctx.recorder.event(sync, 'Normal', 'Pruned', `deleted ${pruned.deleted} object(s) no longer in revision ${revision}`);
  const kept = pruned.failed.map((f) => f.entry);
  const inventory = [...applied.inventory, ...kept];
  if (pruned.failed.length > 0) {
    const failures = pruned.failed.map((f) => ({ kind: f.entry.kind, name: f.entry.name, message: `prune: ${f.message}` }));
    return { type: 'failed', revision, reason: PRUNE_FAILED, message: problemsMessage(failures), problems: failures, inventory };
  }
  if (sync.spec.prune === false) inventory.push(...pending.filter((e) => !current.has(entryId(e))));

  if (sync.spec.wait) {
    const waiting = await vmsNotRunning(ctx.client, plan.objects, signal);
    if (waiting.length > 0) return healthVerdict(ctx, key, sync, revision, waiting, inventory);
  }
  ctx.healthSince.delete(key);
  return { type: 'applied', revision, inventory };
}

/** GitSyncs of spec.dependsOn that are not Ready at their own source's current revision. */
function dependenciesNotReady(ctx: GitSyncContext, sync: GitSync): string[] {
  const namespace = sync.metadata.namespace!;
  return (sync.spec.dependsOn ?? [])
    .filter(({ name }) => {
      const dep = ctx.syncs.get(`${namespace}/${name}`);
      if (!dep || findCondition(dep.status?.conditions, READY)?.status !== 'True') return true;
      if (dep.status?.observedGeneration !== dep.metadata.generation) return true;
      const source = ctx.repositories.get(`${namespace}/${dep.spec.sourceRef.name}`)?.status?.artifact?.revision;
      return source === undefined || dep.status?.lastAppliedRevision !== source;
    })
    .map((d) => d.name);
}

/** The inventory joined by this commit's objects (no uid yet) before the first write; written only when it grows. */
async function recordPending(
  ctx: GitSyncContext,
  sync: GitSync,
  before: readonly GitSyncInventoryEntry[],
  objects: readonly PlannedObject[],
  revision: string,
): Promise<GitSyncInventoryEntry[]> {
  const known = new Set(before.map(entryId));
  const added = objects.filter((o) => !known.has(o.id)).map((o) => entryOf(o));
  if (added.length === 0) return [...before];
  const pending = [...before, ...added];
  await ctx.client.patch(
    'gitsync',
    sync.metadata.name!,
    { status: { inventory: pending, lastAttemptedRevision: revision } },
    { type: 'merge', status: true, namespace: sync.metadata.namespace },
  );
  return pending;
}

const entryOf = (o: PlannedObject, uid?: string): GitSyncInventoryEntry => ({
  kind: o.kind.kind,
  ...(o.object.metadata.namespace ? { namespace: o.object.metadata.namespace } : {}),
  name: o.object.metadata.name!,
  ...(uid ? { uid } : {}),
});

async function applyAll(
  ctx: GitSyncContext,
  sync: GitSync,
  applier: ShoalClient,
  objects: readonly PlannedObject[],
  revision: string,
  signal: AbortSignal,
): Promise<{ inventory: GitSyncInventoryEntry[] } | { failure: SyncProblem }> {
  const inventory: GitSyncInventoryEntry[] = [];
  const changed: string[] = [];
  for (const o of objects) {
    try {
      const { result, object } = await serverSideApply(applier, o.object, { fieldManager: GITOPS_FIELD_MANAGER, force: true, signal });
      inventory.push(entryOf(o, object.metadata.uid));
      if (result !== 'unchanged') changed.push(`${o.kind.kind} ${objectKey(object.metadata)} ${result}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return { failure: problemsOf(o, err)[0]! };
    }
  }
  if (changed.length > 0) {
    const drift = sync.status?.lastAppliedRevision === revision;
    const summary = `${changed.slice(0, 10).join(', ')}${changed.length > 10 ? ` (and ${changed.length - 10} more)` : ''}`;
    ctx.recorder.event(
      sync,
      drift ? 'Warning' : 'Normal',
      drift ? 'DriftCorrected' : 'Applied',
      drift ? `corrected to revision ${revision}: ${summary}` : `revision ${revision}: ${summary}`,
    );
  }
  return { inventory };
}

function healthVerdict(ctx: GitSyncContext, key: string, sync: GitSync, revision: string, waiting: string[], inventory: GitSyncInventoryEntry[]): PassOutcome {
  const now = ctx.now?.() ?? Date.now();
  let since = ctx.healthSince.get(key);
  if (!since || since.revision !== revision) ctx.healthSince.set(key, (since = { revision, since: now }));
  const message = `waiting for VirtualMachines to be Running: ${waiting.join(', ')}`;
  if (now - since.since <= durationMs(sync.spec.timeout, '5m')) return { type: 'progressing', revision, inventory, message };
  return { type: 'failed', revision, reason: HEALTH_CHECK_FAILED, message: `timed out ${message}`, inventory };
}

async function writeStatus(ctx: GitSyncContext, sync: GitSync, outcome: PassOutcome): Promise<void> {
  const requested = sync.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
  const status = computeStatus(sync, outcome, timestamp(ctx.now?.() ?? Date.now()), requested);
  if (outcome.type === 'invalid' && sync.status?.lastAttemptedRevision !== outcome.revision)
    ctx.recorder.event(sync, 'Warning', VALIDATION_FAILED, `revision ${outcome.revision}: ${problemsMessage(outcome.problems)}`);
  if (outcome.type === 'failed' && findCondition(sync.status?.conditions, READY)?.reason !== outcome.reason)
    ctx.recorder.event(sync, 'Warning', outcome.reason, outcome.message);
  try {
    await ctx.client.patch('gitsync', sync.metadata.name!, { status }, { type: 'merge', status: true, namespace: sync.metadata.namespace });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return;
    throw err;
  }
}
