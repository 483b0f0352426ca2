/**
 * The gitrepository controller's wiring (STYLE.md 4): each GitRepository's spec.ref is fetched
 * into the git cache GitSyncs read, and its status names the commit (reconcile.ts).
 *
 *   GitRepository added, spec changed (generation),   → that repository
 *   deleted, or a reconcile requested (the
 *   reconcile-requested-at annotation: a webhook call)
 *   a ref of a local repository changed (chokidar)    → that repository, at once
 *
 * Its own status writes do not wake it (they change neither generation nor annotation): time is
 * the other source, each fetch asking to be done again after spec.interval. A failed fetch backs
 * off from 1 s to 5 min rather than from 5 ms: each try is a round trip to a git host and a status
 * write, and a wrong url or password is not fixed in milliseconds.
 */
import { objectKey, RECONCILE_REQUESTED_ANNOTATION, type GitRepository } from '@shoal/api';
import { Controller, defaultControllerRateLimiter, type EventHandler } from '@shoal/controller-runtime';
import { gitopsCacheDir, type ControllerEnv } from '../../controller-env.js';
import { reconcile, type GitRepositoryContext } from './reconcile.js';
import { RepositoryWatches } from './repository-watches.js';

export const GITREPOSITORY_NAME = 'gitrepository';
export const GITREPOSITORY_COMPONENT = 'shoal-gitrepository-controller';

export function gitRepositoryController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: GITREPOSITORY_NAME });
  const repositories = env.informers.informer<GitRepository>('gitrepository');
  const watches = new RepositoryWatches(log);
  const stopping = new AbortController();
  const ctx: GitRepositoryContext = {
    client: env.client,
    repositories,
    cache: env.gitCache(),
    cacheDir: gitopsCacheDir(env.settings),
    watches,
    recorder: env.recorder(GITREPOSITORY_COMPONENT),
    log,
    stopping: stopping.signal,
  };
  const controller = new Controller({
    name: GITREPOSITORY_NAME,
    workers: 2,
    registry: env.registry,
    log,
    reconcile: (key) => reconcile(ctx, key),
    rateLimiter: defaultControllerRateLimiter({ baseMs: 1_000, maxMs: 5 * 60_000 }),
  });

  const requested = (r: GitRepository) => r.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
  const onRepository: EventHandler<GitRepository> = (change) => {
    if (change.type === 'update' && change.old.metadata.generation === change.object.metadata.generation && requested(change.old) === requested(change.object))
      return [];
    return [objectKey(change.object.metadata)];
  };
  return controller.watch(repositories, onRepository).watchKeys((enqueue) => {
    const stopWatching = watches.start(enqueue);
    // Called when the controller stops: fetches under way are cut short, every watcher closed.
    return () => {
      stopping.abort();
      stopWatching();
    };
  });
}
