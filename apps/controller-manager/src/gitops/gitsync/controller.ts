/**
 * The gitsync controller's wiring (STYLE.md 4): each GitSync keeps its path of a GitRepository's
 * current revision applied (reconcile.ts).
 *
 *   GitSync added, spec changed (generation),     → that sync
 *   or a reconcile requested (annotation)
 *   GitSync Ready or lastAppliedRevision changed  → the syncs that depend on it
 *   GitRepository's revision changed              → the syncs of that source
 *
 * Its own status writes do not wake it (they change neither generation nor annotation): drift is
 * looked for on spec.interval, which reconcile asks for.
 */
import { findCondition, RECONCILE_REQUESTED_ANNOTATION, serviceAccountUser, type GitRepository, type GitSync } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../../controller-env.js';
import { credentialsFor } from '../git/index.js';
import { reconcile, type ArtifactSource, type GitSyncContext } from './reconcile.js';
import { READY } from './status.js';

export const GITSYNC_NAME = 'gitsync';
export const GITSYNC_COMPONENT = 'shoal-gitsync-controller';

export function gitSyncController(env: ControllerEnv): Controller {
  // A commit is read from the process's git cache, fetched again (with the repository's
  // credentials) when the cache does not hold it: another process may have fetched it.
  const source: ArtifactSource = {
    checkout: async (repo, commit, signal) => env.gitCache().checkout(repo, commit, await credentialsFor(env.client, repo), signal),
  };
  const log = env.log.child({ controller: GITSYNC_NAME });
  const syncs = env.informers.informer<GitSync>('gitsync');
  const repositories = env.informers.informer<GitRepository>('gitrepository');
  const ctx: GitSyncContext = {
    client: env.client,
    applierFor: (sync) =>
      sync.spec.serviceAccountName
        ? env.client.impersonating({ user: serviceAccountUser(sync.metadata.namespace!, sync.spec.serviceAccountName) })
        : env.client,
    syncs,
    repositories,
    source,
    recorder: env.recorder(GITSYNC_COMPONENT),
    log,
    healthSince: new Map(),
  };
  const controller = new Controller({ name: GITSYNC_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const keyOf = (s: GitSync) => `${s.metadata.namespace}/${s.metadata.name}`;
  const requested = (s: GitSync) => s.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
  const outcome = (s: GitSync) => JSON.stringify([findCondition(s.status?.conditions, READY)?.status, s.status?.lastAppliedRevision]);
  const dependentsOf = (s: GitSync) =>
    syncs
      .list()
      .filter((d) => d.metadata.namespace === s.metadata.namespace && (d.spec.dependsOn ?? []).some((x) => x.name === s.metadata.name))
      .map(keyOf);

  const onSync: EventHandler<GitSync> = (change) => {
    if (change.type !== 'update') return [keyOf(change.object), ...dependentsOf(change.object)];
    const { old, object } = change;
    const own = old.metadata.generation !== object.metadata.generation || requested(old) !== requested(object) ? [keyOf(object)] : [];
    return outcome(old) === outcome(object) ? own : [...own, ...dependentsOf(object)];
  };
  const onRepository: EventHandler<GitRepository> = (change) => {
    if (change.type === 'update' && change.old.status?.artifact?.revision === change.object.status?.artifact?.revision) return [];
    const repo = change.object;
    return syncs
      .list()
      .filter((s) => s.metadata.namespace === repo.metadata.namespace && s.spec.sourceRef.name === repo.metadata.name)
      .map(keyOf);
  };
  return controller.watch(syncs, onSync).watch(repositories, onRepository);
}
