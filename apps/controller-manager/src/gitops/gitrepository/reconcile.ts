/**
 * reconcile(ctx, 'namespace/name') for the gitrepository controller (STYLE.md 1–3):
 *
 *   gone                  → its watcher closed, its cache removed; done
 *   local url             → its refs watched (repository-watches.ts), before the fetch
 *   suspended             → nothing fetched, status left as it is (the last revision stays in force)
 *   otherwise             → spec.ref resolved and its commit fetched into the cache (git/), with
 *                           the credentials of spec.secretRef; status written through /status
 *                           (status.ts), the reconcile-requested-at value it answered with it
 *   a new revision        → a NewArtifact Event
 *   then                  → fetched: look again after spec.interval; failed: a Warning Event,
 *                           and a throw, so the queue backs off (unless the spec can never be
 *                           fetched: Stalled, until it changes)
 *
 * The status write carries the resourceVersion the fetch was made for (writeStatus): a
 * GitRepository whose spec or reconcile request changed meanwhile is fetched again for it instead.
 */
import { ApiError, parseDuration, RECONCILE_REQUESTED_ANNOTATION, timestamp, type GitRepository } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { credentialsFor, GitCacheError, GIT_OPERATION_FAILED, removeCachedRepository, type GitCache } from '../git/index.js';
import type { RepositoryWatches } from './repository-watches.js';
import { computeStatus, type FetchOutcome } from './status.js';

export const NEW_ARTIFACT = 'NewArtifact';
const DEFAULT_INTERVAL = '1m';

export interface GitRepositoryContext {
  client: ShoalClient;
  repositories: Pick<Informer<GitRepository>, 'get'>;
  cache: GitCache;
  /** Where the cache lives: what a deleted GitRepository leaves there is removed. */
  cacheDir: string;
  watches: Pick<RepositoryWatches, 'sync'>;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  /** Aborted when the controller stops: a fetch under way is cut short, and its outcome not written. */
  stopping: AbortSignal;
  now?: () => number;
}

const requested = (repo: GitRepository) => repo.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];

export async function reconcile(ctx: GitRepositoryContext, key: string): Promise<Result> {
  const repo = ctx.repositories.get(key);
  if (!repo || repo.metadata.deletionTimestamp) {
    await ctx.watches.sync(key, undefined);
    if (!repo) {
      const [namespace, name] = key.split('/') as [string, string];
      await removeCachedRepository(ctx.cacheDir, namespace, name);
    }
    return {};
  }
  await ctx.watches.sync(key, repo);
  if (repo.spec.suspend) return {};

  const requestedAt = requested(repo);
  const outcome = await fetch(ctx, repo);
  if (ctx.stopping.aborted) throw new Error('the controller is stopping');
  const written = await writeStatus(ctx, repo, outcome, requestedAt);
  if (!written) return {};
  const before = written.status;

  if ('failure' in outcome) {
    const { reason, message, retryable } = outcome.failure;
    ctx.recorder.event(repo, 'Warning', reason, message);
    if (!retryable) return {};
    throw new Error(`${reason}: ${message}`);
  }
  const { artifact } = outcome;
  if (artifact.revision !== before?.artifact?.revision) {
    ctx.log.info({ repository: key, revision: artifact.revision }, 'new revision');
    ctx.recorder.event(repo, 'Normal', NEW_ARTIFACT, `stored artifact for commit '${artifact.message}' (${artifact.revision})`);
  }
  return { requeueAfterMs: parseDuration(repo.spec.interval ?? DEFAULT_INTERVAL) };
}

/**
 * Writes the status the fetch gives, pinned to the resourceVersion it was made for; answers the
 * object it was written over (its status as it was before), or undefined when it is gone. On a
 * conflict the object is read afresh: when only its status moved (the cache had not seen this
 * controller's last write yet) the fetch still answers it, and the status is written over the
 * fresh one; when its spec or the reconcile request moved, the conflict is thrown, and the change
 * (which enqueued it) gets a fetch of its own.
 */
async function writeStatus(ctx: GitRepositoryContext, repo: GitRepository, outcome: FetchOutcome, requestedAt: string | undefined) {
  const now = timestamp(ctx.now?.() ?? Date.now());
  const { name, namespace } = repo.metadata;
  for (let current = repo, attempt = 0; ; attempt++) {
    try {
      await ctx.client.patch(
        'gitrepository',
        name!,
        { metadata: { resourceVersion: current.metadata.resourceVersion }, status: computeStatus(current, outcome, now, requestedAt) },
        { type: 'merge', status: true, namespace },
      );
      return current;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      if (!(err instanceof ApiError && err.code === 409) || attempt > 0) throw err;
      const fresh = await ctx.client.get<GitRepository>('gitrepository', name!, { namespace });
      if (fresh.metadata.generation !== repo.metadata.generation || requested(fresh) !== requestedAt) throw err;
      current = fresh;
    }
  }
}

/** Fetches spec.ref; what went wrong becomes the condition's reason and message. */
async function fetch(ctx: GitRepositoryContext, repo: GitRepository): Promise<FetchOutcome> {
  try {
    const credentials = await credentialsFor(ctx.client, repo);
    return { artifact: await ctx.cache.fetch(repo, credentials, ctx.stopping) };
  } catch (err) {
    if (err instanceof GitCacheError) return { failure: { reason: err.reason, message: err.message, retryable: err.retryable } };
    // The apiserver failed to answer (the Secret's read): not the repository's fault; retried without a word in its status.
    if (err instanceof ApiError) throw err;
    // The cache itself failed (its directory not writable, the disk full): said where a user looks.
    return { failure: { reason: GIT_OPERATION_FAILED, message: (err as Error).message, retryable: true } };
  }
}
